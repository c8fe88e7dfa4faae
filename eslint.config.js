// Lint rules, including the import boundaries of DESIGN.md §2, so the architecture is checked.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const only = (pkg, where) => ({
  name: pkg,
  message: `${pkg} may only be imported from ${where} (DESIGN.md §2).`,
});

const outsideDomain = ["dockerode", "docker-modem", "fastify", "node-cron", "pino", "prom-client", "yaml", "dotenv", "unix-dgram"];
const domainPath = (p) => ({ name: p, message: "src/domain/ is pure: no I/O packages." });
const domainPatterns = [
  { group: ["../*", "!../domain/*"], message: "src/domain/ imports nothing outside itself." },
  { group: ["node:*"], message: "src/domain/ is pure: no node: modules (spec-hash.ts may use node:crypto)." },
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-imports": [
        "error",
        {
          paths: [
            only("dockerode", "src/runtime/"),
            only("docker-modem", "src/runtime/"),
            only("fastify", "src/http/"),
            only("node-cron", "src/jobs/"),
            only("pino", "src/observability/logger.ts"),
            only("unix-dgram", "src/systemd/"),
          ],
        },
      ],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read process.env only in src/config/ (and the composition roots)." },
      ],
    },
  },
  {
    files: ["src/domain/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: outsideDomain.map(domainPath),
          patterns: domainPatterns,
        },
      ],
    },
  },
  { files: ["src/domain/spec-hash.ts"], rules: { "no-restricted-imports": "off" } },
  // The cron grammar is node-cron's: schedule.ts may use its pure validator, and nothing else of it (no tasks, no timers).
  {
    files: ["src/domain/schedule.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            ...outsideDomain.filter((p) => p !== "node-cron").map(domainPath),
            { name: "node-cron", allowImportNames: ["validateDetailed"], message: "src/domain/schedule.ts may use node-cron's pure validateDetailed only." },
          ],
          patterns: domainPatterns,
        },
      ],
    },
  },
  {
    files: ["src/render/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: outsideDomain.filter((p) => p !== "yaml").map((p) => ({ name: p, message: "src/render/ is pure: spec in, text out." })),
          patterns: [
            { regex: "^\\.\\./(?!domain/)", message: "src/render/ imports only src/domain/." },
            { regex: "^node:(?!path/posix$)", message: "src/render/ is pure: no I/O (node:path/posix only)." },
          ],
        },
      ],
    },
  },
  { files: ["src/runtime/**"], rules: { "no-restricted-imports": ["error", { paths: [only("fastify", "src/http/"), only("node-cron", "src/jobs/"), only("pino", "src/observability/logger.ts"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/http/**"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("node-cron", "src/jobs/"), only("pino", "src/observability/logger.ts"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/observability/logger.ts"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("fastify", "src/http/"), only("node-cron", "src/jobs/"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/jobs/**"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("docker-modem", "src/runtime/"), only("fastify", "src/http/"), only("pino", "src/observability/logger.ts"), only("unix-dgram", "src/systemd/")] }] } },
  { files: ["src/systemd/**"], rules: { "no-restricted-imports": ["error", { paths: [only("dockerode", "src/runtime/"), only("docker-modem", "src/runtime/"), only("fastify", "src/http/"), only("node-cron", "src/jobs/"), only("pino", "src/observability/logger.ts")] }] } },
  { files: ["src/config/**", "src/cli.ts", "src/entry.ts", "test/**", "bench/**", "scripts/**"], rules: { "no-restricted-properties": "off" } },
  { files: ["test/**", "bench/**"], rules: { "no-restricted-imports": "off" } },
  // The CI scripts are plain Node (check-imports.mjs: the layer order and the cycles of src/).
  { files: [".ci/**/*.mjs"], languageOptions: { globals: { process: "readonly", console: "readonly" } } },
);
