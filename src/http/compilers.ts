// fastify's schema compilers for podwarden's two servers. fastify's own (ajv for what comes
// in, fast-json-stringify for what goes out) generate and compile code for every schema:
// without them the daemon's peak RSS on adoption went from 72 to 70 MiB (VmHWM), and leaving
// them out of the bundle shortened its start. The schemas stay the contract: requests are
// checked by TypeBox's own checker (the one the config loader uses), replies are
// JSON.stringify of documents built to their schema's type (the unit tests check them against
// the schemas).

import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FastifyServerOptions } from "fastify";

interface ValidatorArgs {
  readonly schema: TSchema;
  readonly httpPart?: string;
}

/** A request part checked against its schema; query strings and params are converted first (they arrive as strings). */
const validator = ({ schema, httpPart }: ValidatorArgs) => {
  return (data: unknown): { value: unknown } | { error: { message: string; instancePath: string }[] } => {
    const value = httpPart === "body" ? data : Value.Convert(schema, data);
    if (Value.Check(schema, value)) return { value };
    return { error: [...Value.Errors(schema, value)].map((e) => ({ message: e.message, instancePath: e.path })) };
  };
};

/**
 * JSON.stringify, except for an error fastify answers with under a route's schema (a request
 * that failed validation): its message and code, the shape of podwarden's error replies.
 */
const serializer = () => (data: unknown) =>
  JSON.stringify(data instanceof Error ? { error: data.message, code: (data as { code?: unknown }).code ?? "E_INTERNAL" } : data);

/** The schemaController option of both servers: neither ajv nor fast-json-stringify is loaded. */
export const schemaController = {
  compilersFactory: { buildValidator: () => validator, buildSerializer: () => serializer },
} as unknown as NonNullable<FastifyServerOptions["schemaController"]>;
