// Owns ConfigError: every refusal to load a config, worded "file:line: what to change".

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    /** Where: "file:line" (or just the file when no line applies). */
    readonly source: string,
    /** What is wrong and what to change, without the location. */
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}
