import { createRequire } from 'node:module';
import { getMetadataStorage, type ValidationArguments } from 'class-validator';

/** class-transformer's own metadata (the @Type decorators), which its index does not export. */
const { defaultMetadataStorage } = createRequire(import.meta.url)('class-transformer/cjs/storage.js') as {
  defaultMetadataStorage: {
    getStrategy(target: Class): string;
    getExposedMetadatas(target: Class): unknown[];
    getExcludedMetadatas(target: Class): unknown[];
    findTransformMetadatas(target: Class, property: string, transformationType: number): unknown[];
    findTypeMetadata(
      target: Class,
      property: string,
    ): { typeFunction?: (options: object) => unknown; options?: { discriminator?: unknown } } | undefined;
  };
};

/**
 * A DTO class's class-validator rules, read once from its metadata, run without the per-request
 * metadata walk, grouping and error objects: `accept(body)` answers the instance that
 * class-transformer and class-validator would make of a valid body, or `undefined` when the body
 * is not valid (or holds something this does not mimic). It never answers for an invalid body:
 * the validation pipe then runs class-validator as before, which words the 400.
 *
 * It mirrors ValidationPipe(whitelist, forbidNonWhitelisted, transform, no implicit conversion)
 * over class-validator's ValidationExecutor: every property's conditions (IsOptional, ValidateIf),
 * then each of its validators (the constraint instances class-validator itself calls, with the
 * same arguments, `each` over arrays), then nested validation of instances built as
 * class-transformer builds them from `@Type`. A class with rules it does not mirror (groups,
 * `always`, async or promise validation, class-transformer Expose/Exclude/Transform, a
 * discriminator) gets no compiled form.
 */
export interface CompiledDto {
  accept(body: unknown): object | undefined;
}

const CUSTOM = 'customValidation';
const NESTED = 'nestedValidation';
const CONDITIONAL = 'conditionalValidation';
const IS_DEFINED = 'isDefined';
const WHITELIST = 'whitelistValidation';

type Class = new () => object;

interface Check {
  property: string;
  constraints: unknown[];
  each: boolean;
  validateIf?: (object: object, value: unknown) => boolean;
  validators: Array<{ validate(value: unknown, args: ValidationArguments): unknown }>;
}

interface PropertyPlan {
  name: string;
  conditions: Array<(object: object, value: unknown) => boolean>;
  checks: Check[];
  nested: boolean;
  /** The class `@Type` names for this property (class-transformer builds it from a plain object). */
  type?: Plan;
}

interface Plan {
  cls: Class;
  name: string;
  properties: Map<string, PropertyPlan>;
}

const plans = new Map<Class, Plan | null>();
const BUILT_IN = new Set<unknown>([String, Number, Boolean, Date, Buffer, Map, Set, Array, Object, Promise]);

function planOf(cls: Class): Plan | null {
  if (plans.has(cls)) return plans.get(cls)!;
  plans.set(cls, null); // a cycle is not mirrored
  const plan = compile(cls);
  plans.set(cls, plan);
  return plan;
}

function compile(cls: Class): Plan | null {
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(cls, undefined as unknown as string, false, false, undefined);
  if (metadatas.length === 0) return null;
  const transformer = defaultMetadataStorage;
  if (
    transformer.getStrategy(cls) !== 'none' ||
    transformer.getExposedMetadatas(cls).length > 0 ||
    transformer.getExcludedMetadatas(cls).length > 0
  )
    return null;
  const plan: Plan = { cls, name: cls.name, properties: new Map() };
  for (const [name, list] of Object.entries(storage.groupByPropertyName(metadatas))) {
    const property: PropertyPlan = { name, conditions: [], checks: [], nested: false };
    for (const m of list) {
      if (m.always !== undefined || (m.groups && m.groups.length > 0)) return null;
      if (m.type === CONDITIONAL) property.conditions.push(m.constraints[0] as PropertyPlan['conditions'][number]);
      else if (m.type === NESTED) property.nested = true;
      else if (m.type === CUSTOM || m.type === IS_DEFINED) {
        const constraints = storage.getTargetValidatorConstraints(m.constraintCls);
        if (constraints.some((c) => c.async)) return null;
        property.checks.push({
          property: m.propertyName,
          constraints: m.constraints,
          each: m.each,
          validateIf: (m as { validateIf?: Check['validateIf'] }).validateIf,
          validators: constraints.map((c) => c.instance as Check['validators'][number]),
        });
      } else if (m.type !== WHITELIST) return null;
    }
    // class-validator runs isDefined first; the order does not change whether a value passes.
    if (transformer.findTransformMetadatas(cls, name, 1 /* PLAIN_TO_CLASS */).length > 0) return null;
    const typed = transformer.findTypeMetadata(cls, name);
    if (typed) {
      if (typed.options?.discriminator || !typed.typeFunction) return null;
      const target = typed.typeFunction({ newObject: {}, object: {}, property: name }) as Class;
      if (typeof target !== 'function' || BUILT_IN.has(target)) return null;
      const nested = planOf(target);
      if (!nested) return null;
      property.type = nested;
    }
    plan.properties.set(name, property);
  }
  return plan;
}

const FAIL = Symbol('fail');

/** class-transformer's plainToInstance of a JSON value, for the shapes mirrored here. */
function build(value: unknown, type: Plan | undefined): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const built = build(item, type);
      if (built === FAIL) return FAIL;
      out.push(built);
    }
    return out;
  }
  if (value === null || typeof value !== 'object') return type && value !== null && value !== undefined ? FAIL : value;
  if (!type || Object.getPrototypeOf(value) !== Object.prototype) return FAIL;
  const instance = new type.cls() as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    const property = type.properties.get(key);
    // Unknown keys, and keys class-transformer would skip (constructor, accessors, methods), go the slow way.
    if (!property || key === '__proto__' || key === 'constructor' || instance[key] instanceof Function) return FAIL;
    if (Object.getOwnPropertyDescriptor(type.cls.prototype, key)) return FAIL;
    const built = build((value as Record<string, unknown>)[key], property.type);
    if (built === FAIL) return FAIL;
    instance[key] = built;
  }
  return instance;
}

const isPromise = (value: unknown) =>
  value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';

function passes(check: Check, object: object, value: unknown): boolean {
  if (check.validateIf && !check.validateIf(object, value)) return true;
  const args: ValidationArguments = {
    targetName: object.constructor ? object.constructor.name : (undefined as unknown as string),
    property: check.property,
    object,
    value,
    constraints: check.constraints,
  };
  for (const validator of check.validators) {
    if (!check.each || !(Array.isArray(value) || value instanceof Set || value instanceof Map)) {
      const valid = validator.validate(value, args);
      if (isPromise(valid) || !valid) return false;
      continue;
    }
    for (const item of value instanceof Map ? [...value.values()] : [...value]) {
      const valid = validator.validate(item, args);
      if (isPromise(valid) || !valid) return false;
    }
  }
  return true;
}

/** class-validator's nested validation of a value (an instance, or an array of them). */
function nestedValid(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.every((item) => nestedValid(item));
  if (value instanceof Object) {
    const plan = planOf(value.constructor as Class);
    return plan !== null && plan.cls === value.constructor && valid(value, plan);
  }
  return false;
}

/** class-validator's verdict (whitelist, forbidNonWhitelisted) on an instance built by `build`. */
function valid(object: object, plan: Plan): boolean {
  for (const key of Object.keys(object)) if (!plan.properties.has(key)) return false;
  for (const property of plan.properties.values()) {
    const value = (object as Record<string, unknown>)[property.name];
    if (value instanceof Promise) return false;
    if (!property.conditions.every((condition) => condition(object, value))) continue;
    for (const check of property.checks) if (!passes(check, object, value)) return false;
    if (property.nested && !nestedValid(value)) return false;
  }
  return true;
}

/** The compiled form of a DTO class, or null when its rules are not mirrored. */
export function compileDto(cls: Class): CompiledDto | null {
  const plan = planOf(cls);
  if (!plan) return null;
  return {
    accept(body: unknown): object | undefined {
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
      const instance = build(body, plan);
      return instance !== FAIL && valid(instance as object, plan) ? (instance as object) : undefined;
    },
  };
}
