// The config module: the only code that reads config files and the env file.

export { loadConfig, type LoadedConfig } from "./load.js";
export { parseDuration, formatDuration } from "./durations.js";
export { ConfigFileSchema, type ConfigFile } from "./schema.js";
