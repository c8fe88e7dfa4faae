// The `up` command's own CommonJS bundle (dist/fast/up.cjs, see src/entry.ts): the CLI, with
// the command's module imported here so that the code cache made at build time holds its code.
import "../commands/up.js";
export { main, quietOnBrokenPipe } from "../cli.js";
