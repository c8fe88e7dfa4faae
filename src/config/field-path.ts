// Field paths: where in a config document something is, as segments and as the dotted text users read
// (`containers.falkordb.dependsOn[0]`, `images["localhost/opencode-server:latest"].build.containerfile`).

export type FieldPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatPath(path: FieldPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** How many leading segments of `path` exist in `root` (a document's depth of agreement with a path). */
export function existingDepth(root: unknown, path: FieldPath): number {
  let node = root;
  let depth = 0;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === "number" && segment < node.length) node = node[segment];
    else if (isPlainObject(node) && typeof segment === "string" && Object.hasOwn(node, segment)) node = node[segment];
    else break;
    depth += 1;
  }
  return depth;
}

/**
 * An RFC 6901 pointer (as TypeBox reports it: `/containers/a/dependsOn/0`) as segments. Segments that
 * index arrays in `root` become numbers, so `dependsOn/0` prints as `dependsOn[0]` while a map key "0"
 * stays a key.
 */
export function fromPointer(pointer: string, root: unknown): FieldPath {
  if (pointer === "") return [];
  const segments: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^[0-9]+$/.test(key)) {
      segments.push(Number(key));
      node = node[Number(key)];
    } else {
      segments.push(key);
      node = isPlainObject(node) ? node[key] : undefined;
    }
  }
  return segments;
}
