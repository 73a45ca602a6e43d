import { type ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { type CompiledDto, compileDto } from './compiled-dto.js';
import { FieldValidationException, flattenValidationErrors } from './errors.js';

/**
 * Whitelisting validation with errors named by field path; a body must be a JSON object. A body
 * is first tried against its DTO's compiled rules (compiled-dto.ts, the same rules without the
 * per-request metadata walk); one they do not accept goes through class-validator, which words
 * the 400 (or accepts what the compiled form does not mirror).
 */
@Injectable()
export class AppValidationPipe extends ValidationPipe {
  private readonly compiled = new Map<unknown, CompiledDto | null>();

  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      exceptionFactory: (errors) => new FieldValidationException(flattenValidationErrors(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object) {
      if (value === undefined || value === null) value = {};
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new FieldValidationException([{ field: '(body)', message: 'must be a JSON object' }]);
      }
      const accepted = this.compiledFor(metadata.metatype)?.accept(value);
      if (accepted) return accepted;
    }
    return super.transform(value, metadata);
  }

  private compiledFor(metatype: NonNullable<ArgumentMetadata['metatype']>): CompiledDto | null {
    let compiled = this.compiled.get(metatype);
    if (compiled === undefined) {
      compiled = compileDto(metatype as new () => object);
      this.compiled.set(metatype, compiled);
    }
    return compiled;
  }
}
