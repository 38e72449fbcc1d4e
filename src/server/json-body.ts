/**
 * JSON request bodies are checked as they are typed, never coerced. Fastify's own validator
 * coerces types (`coerceTypes: 'array'`), which query strings need (`?by=dport` is one string, the
 * schema an array; `limit=10` a number) but which made `{"addresses": 1}` screen the address "1"
 * and answer 200 (found by the api-body fuzz target, 2026-12-07): a screening request whose
 * addresses are not an array of strings is a 400. Given to the routes that take a body as their
 * `validatorCompiler` (they have no query-string schema of their own).
 */
import { Ajv } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

// As fastify's defaults otherwise: properties a schema does not allow removed, defaults filled in.
const ajv = new Ajv({ coerceTypes: false, removeAdditional: true, useDefaults: true, allErrors: false });

export const strictBodyCompiler: FastifySchemaCompiler<unknown> = ({ schema }) =>
  ajv.compile(schema as object);
