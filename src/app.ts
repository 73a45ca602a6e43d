import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { AppValidationPipe } from './common/validation.pipe.js';
import { APP_CONFIG, type AppConfig } from './config/config.js';
import { mountSettings } from './settings/settings-page.js';
import { SERVICE_VERSION } from './version.js';

/** Everything main.ts and the test harness both apply to the app: pipes, errors, OpenAPI. */
export function configureApp(app: INestApplication): void {
  (app as NestExpressApplication).disable('x-powered-by');
  app.useGlobalPipes(new AppValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter());
  mountSettings(app, app.get<AppConfig>(APP_CONFIG));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Waybill API')
      .setDescription(
        'Orders, shipments and their domain events, pushed as signed webhooks to ERP systems. ' +
          'Every /v1 route takes Authorization: Bearer <API key>.',
      )
      .setVersion(SERVICE_VERSION)
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
