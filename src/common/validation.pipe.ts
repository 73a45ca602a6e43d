import { type ArgumentMetadata, Injectable, ValidationPipe } from '@nestjs/common';
import { FieldValidationException, flattenValidationErrors } from './errors.js';

/** Whitelisting validation with errors named by field path; a body must be a JSON object. */
@Injectable()
export class AppValidationPipe extends ValidationPipe {
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
    }
    return super.transform(value, metadata);
  }
}
