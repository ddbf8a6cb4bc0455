/**
 * Base of every rkt command: rkt's global flags, rkt's error format (`<cmd>: <msg>`, exit 254),
 * and a lazily booted engine. Heavy modules are imported only inside `engine()`.
 */
import { Command, type Interfaces } from '@oclif/core';
import { globalFlags } from './runtime/flag-specs.js';
import { oclifFlags } from './runtime/pods/flag-defs.js';

// Structurally the same as oclif's (unexported) FlagOutput / ArgOutput.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type FlagOutput = { [name: string]: any };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ArgOutput = { [name: string]: any };
type Input<F extends FlagOutput, B extends FlagOutput, A extends ArgOutput> = Interfaces.Input<F, B, A>;
type ParserOutput<F extends FlagOutput, B extends FlagOutput, A extends ArgOutput> = Interfaces.ParserOutput<F, B, A>;
import { exitCodeOf, formatError } from '@rkt/api';
import type { Engine } from './runtime/engine.js';
import type { GlobalOptions } from './runtime/paths.js';
import type { PluginSource } from './runtime/extension-host.js';

export type GlobalFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof RktCommand)['baseFlags'] & T['flags']>;

export abstract class RktCommand extends Command {
  static override baseFlags = oclifFlags(globalFlags);

  private engineInstance: Engine | undefined;
  private debugEnabled = process.argv.includes('--debug');

  /** The prefix rkt puts on diagnostics: the last word of the command id. */
  protected get prefix(): string {
    const id = this.id ?? 'rkt';
    return id.split(/[ :]/).pop() ?? id;
  }

  protected async globalOptions(flags: Record<string, unknown>): Promise<GlobalOptions> {
    const { globalOptionsOf } = await import('./runtime/global-options.js');
    this.debugEnabled = Boolean(flags.debug);
    return globalOptionsOf(flags);
  }

  protected pluginSources(): PluginSource[] {
    return this.config.getPluginsList().map((p) => ({
      name: p.name,
      version: p.version,
      root: p.root,
      type: p.type,
      pjson: p.pjson as PluginSource['pjson'],
    }));
  }

  /** Build the engine (config, settings, extension host, DI child container) once. */
  protected async engine(flags: Record<string, unknown>): Promise<Engine> {
    if (!this.engineInstance) {
      const { bootEngine } = await import('./runtime/engine.js');
      const opts = await this.globalOptions(flags);
      this.engineInstance = await bootEngine(this.pluginSources(), opts, (m) => this.warnLine(m));
    }
    return this.engineInstance;
  }

  /** The CommandIO the shared pod command bodies (runtime/pods/*-command.ts) run with under oclif. */
  protected commandIO(parsePodFlags: (podArgv: string[]) => Promise<Record<string, unknown>>): import('./runtime/pods/run-command.js').CommandIO {
    return {
      parsePodFlags,
      engine: (flags) => this.engine(flags),
      warnLine: (m) => this.warnLine(m),
      debugLine: (m) => this.debugLine(m),
      exit: (c) => this.exit(c),
    };
  }

  protected warnLine(message: string): void {
    process.stderr.write(`${this.prefix}: ${message}\n`);
  }

  protected debugLine(message: string): void {
    if (this.debugEnabled) process.stderr.write(`${this.prefix}: ${message}\n`);
  }

  /**
   * rkt (pflag) writes booleans as `--flag=true|false`; oclif wants `--flag` / `--no-flag`.
   * Translate before parsing so both spellings work.
   */
  protected override async parse<F extends FlagOutput, B extends FlagOutput, A extends ArgOutput>(
    options?: Input<F, B, A>,
    argv: string[] = this.argv,
  ): Promise<ParserOutput<F, B, A>> {
    const defs: Record<string, { type?: string; allowNo?: boolean }> = {
      ...((options?.baseFlags ?? {}) as object),
      ...((options?.flags ?? {}) as object),
    };
    const out: string[] = [];
    for (const a of argv) {
      if (a === '--') {
        out.push(...argv.slice(argv.indexOf(a)));
        break;
      }
      const m = /^--([^=]+)=(true|false)$/i.exec(a);
      const def = m ? defs[m[1]!] : undefined;
      if (m && def?.type === 'boolean') {
        if (m[2]!.toLowerCase() === 'true') out.push(`--${m[1]}`);
        else if (def.allowNo) out.push(`--no-${m[1]}`);
        continue;
      }
      out.push(a);
    }
    const parsed = await super.parse(options, out);
    if ('debug' in parsed.flags) this.debugEnabled = Boolean((parsed.flags as Record<string, unknown>).debug);
    return parsed;
  }

  protected override async catch(err: Error & { oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own exits (this.exit) pass through untouched.
    if (err.oclif?.exit !== undefined && err.message.startsWith('EEXIT')) throw err;
    process.stderr.write(`${this.prefix}: ${formatError(err, this.debugEnabled)}\n`);
    if (this.debugEnabled && err.stack) process.stderr.write(`${err.stack}\n`);
    const code = err.oclif?.exit !== undefined && !('rktError' in err) ? 254 : exitCodeOf(err);
    return this.exit(code);
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    if (this.engineInstance) await this.engineInstance.dispose();
    return super.finally(err);
  }
}
