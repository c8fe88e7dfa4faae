// Collects every problem found while loading, so one ConfigError can report them all at once.
// Each issue names the file that set the field: with `extends`, that is the most derived file
// defining (the most of) the path, because that file's value is the one in the merged document.

import { ConfigError, type ConfigIssue } from "../lib/errors.js";
import { existingDepth, formatPath, type FieldPath } from "./field-path.js";

/** One parsed config file, its relative paths already resolved against its directory. */
export interface Layer {
  readonly file: string;
  readonly doc: Readonly<Record<string, unknown>>;
}

export class Issues {
  readonly #errors: ConfigIssue[] = [];
  /** "file\0path" of every error kept, so the first-per-field rule costs no scan. */
  readonly #seen = new Set<string>();
  readonly #warnings: string[] = [];
  /** Most derived first. */
  readonly #layers: readonly Layer[];

  /** `layers`: base first, as they are merged. */
  constructor(layers: readonly Layer[]) {
    this.#layers = [...layers].reverse();
  }

  /** Records an error; only the first one per field is kept (later ones are usually its consequences). */
  error(path: FieldPath, message: string, file: string = this.fileOf(path)): void {
    this.at(file, formatPath(path), message);
  }

  /** Records an error at a location that is not a field (`line 3` of the env file); first per location. */
  at(file: string, location: string, message: string): void {
    const key = `${file}\0${location}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#errors.push({ file, path: location, message });
  }

  warn(path: FieldPath, message: string, file: string = this.fileOf(path)): void {
    this.#warnings.push(`${file}: ${formatPath(path) || "(root)"}: ${message}`);
  }

  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /** Throws one ConfigError carrying every error collected so far, if there is any. */
  throwIfAny(): void {
    if (this.#errors.length > 0) throw new ConfigError([...this.#errors]);
  }

  fileOf(path: FieldPath): string {
    let best: Layer | undefined;
    let bestDepth = -1;
    for (const layer of this.#layers) {
      const depth = existingDepth(layer.doc, path);
      if (depth > bestDepth) [best, bestDepth] = [layer, depth];
    }
    return best?.file ?? "(unknown file)";
  }
}
