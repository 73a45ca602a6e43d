import { Injectable, NotFoundException, type PipeTransform } from '@nestjs/common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A path id that cannot exist answers 404 like any unknown id, never a 400 or 500. */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUuid(value)) throw new NotFoundException(`no such resource: ${value}`);
    return value.toLowerCase();
  }
}

export function notFound(what: string, id: string): NotFoundException {
  return new NotFoundException(`${what} ${id} not found`);
}
