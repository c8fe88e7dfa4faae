// Structural validation: every TypeBox error of the merged document becomes an issue with a field path
// and a message a person can act on ("unknown key "prot" (allowed: ...)", "must be a string (got 6380)").

import type { TSchema } from "@sinclair/typebox";
import { Value, ValueErrorType, type ValueError } from "@sinclair/typebox/value";
import { fromPointer, isPlainObject } from "./field-path.js";
import type { Issues } from "./issues.js";
import { ConfigFileSchema } from "./schema.js";

interface Problem {
  readonly pointer: string;
  readonly message: string;
}

/** Reports every structural problem of `doc`, at most one per field. */
export function checkSchema(doc: unknown, issues: Issues): void {
  for (const problem of explain(Value.Errors(ConfigFileSchema, doc), doc)) {
    issues.error(fromPointer(problem.pointer, doc), problem.message);
  }
}

function* explain(errors: Iterable<ValueError>, doc: unknown): Iterable<Problem> {
  for (const error of errors) {
    if (error.type === ValueErrorType.Union) yield* explainUnion(error, doc);
    else if (error.type === ValueErrorType.ObjectAdditionalProperties && isPlainObject(error.schema.patternProperties)) yield* explainRecordKeys(error, doc);
    else yield { pointer: error.path, message: describe(error) };
  }
}

/**
 * TypeBox stops at the first key of a map (Record) that fails the key pattern and never looks inside
 * such entries. Every bad key is reported here, with what is wrong inside its value, so that all bad
 * names come out in one run.
 */
function* explainRecordKeys(error: ValueError, doc: unknown): Iterable<Problem> {
  const parent = error.path.slice(0, error.path.lastIndexOf("/"));
  const record = valueAt(doc, parent);
  const [pattern, valueSchema] = Object.entries(error.schema.patternProperties as Record<string, TSchema>)[0] ?? [];
  if (!isPlainObject(record) || pattern === undefined || valueSchema === undefined) {
    yield { pointer: error.path, message: describe(error) };
    return;
  }
  const keyPattern = new RegExp(pattern);
  for (const [key, value] of Object.entries(record)) {
    if (keyPattern.test(key)) continue;
    const pointer = `${parent}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    yield { pointer, message: describe({ ...error, path: pointer, value }) };
    for (const inner of explain(Value.Errors(valueSchema, value), value)) yield { ...inner, pointer: pointer + inner.pointer };
  }
}

/** The value at an RFC 6901 pointer, or undefined. */
function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer === "" ? [] : pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = isPlainObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

/**
 * A union fails as a whole. When the value has the JSON type of exactly one alternative (an object
 * where `{ name, restart }` is allowed), that alternative's errors are the useful ones; errors about the
 * value itself keep the union's own message, which lists every accepted form.
 */
function* explainUnion(error: ValueError, doc: unknown): Iterable<Problem> {
  const variants = (error.schema.anyOf ?? []) as TSchema[];
  const matching = variants.flatMap((variant, index) => (accepts(variant, error.value) ? [index] : []));
  const only = matching.length === 1 ? error.errors[matching[0] ?? 0] : undefined;
  if (only === undefined) {
    yield { pointer: error.path, message: describe(error) };
    return;
  }
  for (const inner of explain(only, doc)) {
    yield inner.pointer === error.path && typeof error.schema.errorMessage === "string"
      ? { pointer: error.path, message: describe(error) }
      : inner;
  }
}

function accepts(schema: TSchema, value: unknown): boolean {
  const kind = kindOf(value);
  return schema.type === kind || (schema.type === "number" && kind === "integer");
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function describe(error: ValueError): string {
  if (error.type === ValueErrorType.ObjectRequiredProperty) return "is required";
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return unknownKey(error);
  const custom: unknown = error.schema.errorMessage;
  const what = typeof custom === "string" ? custom : standardMessage(error);
  return `${what} (got ${show(error.value)})`;
}

function unknownKey(error: ValueError): string {
  const key = JSON.stringify(lastSegment(error.path));
  const keyError: unknown = error.schema.keyError;
  if (typeof keyError === "string") return `invalid key ${key}: ${keyError}`;
  const allowed = Object.keys((error.schema.properties ?? {}) as object);
  return `unknown key ${key} (allowed: ${allowed.join(", ")})`;
}

const lastSegment = (pointer: string): string =>
  (pointer.split("/").pop() ?? "").replace(/~1/g, "/").replace(/~0/g, "~");

function standardMessage(error: ValueError): string {
  const { schema } = error;
  switch (error.type) {
    case ValueErrorType.String:
      return typeof error.value === "number" || typeof error.value === "boolean"
        ? "must be a string (quote it in YAML)"
        : "must be a string";
    case ValueErrorType.Integer:
      return "must be an integer";
    case ValueErrorType.Number:
      return "must be a number";
    case ValueErrorType.Boolean:
      return "must be true or false";
    case ValueErrorType.Array:
      return "must be a list";
    case ValueErrorType.Object:
      return "must be a mapping";
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(schema.const)}`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${String(schema.minimum)}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${String(schema.maximum)}`;
    case ValueErrorType.StringMinLength:
      return schema.minLength === 1 ? "must not be empty" : `must be at least ${String(schema.minLength)} characters`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(schema.maxLength)} characters`;
    case ValueErrorType.StringPattern:
      return `must match ${String(schema.pattern)}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(schema.minItems)} item(s)`;
    default:
      return error.message;
  }
}

/** A short rendering of a value for "(got ...)". */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object" && value !== null) return "a mapping";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
