/** stage1 diagnostics: every line on stderr carries the `stage1: ` prefix, as rkt's stage1 does. */
export interface Logger {
  readonly debugEnabled: boolean;
  debug(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function makeLogger(debug: boolean, prefix = 'stage1'): Logger {
  const write = (m: string) => process.stderr.write(`${prefix}: ${m}\n`);
  return {
    debugEnabled: debug,
    debug: (m) => {
      if (debug) write(m);
    },
    warn: write,
    error: write,
  };
}

/** A stage1 failure: printed as `stage1: <message>` and the entrypoint exits 254 (rkt's log.Fatal). */
export class Stage1Error extends Error {
  constructor(
    message: string,
    readonly exitCode = 254,
  ) {
    super(message);
    this.name = 'Stage1Error';
  }
}

/** Run an entrypoint body; a thrown error becomes `stage1: msg` on stderr and exit status 254. */
export async function main(body: () => Promise<number | void>, prefix = 'stage1'): Promise<never> {
  let code = 0;
  try {
    code = (await body()) ?? 0;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${prefix}: ${msg}\n`);
    if (process.env.RKT_STAGE1_TRACE && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    code = err instanceof Stage1Error ? err.exitCode : 254;
  }
  if (process.env.RKT_TIMING) {
    // as stage0's RKT_TIMING lines (core/cli runtime/timing.ts): when this entrypoint started and ended
    for (const [ms, what] of [[performance.timeOrigin, 'start'], [performance.timeOrigin + performance.now(), 'end']] as const)
      process.stderr.write(`rkt-timing ${ms.toFixed(1)} ${process.pid} ${prefix}: ${process.argv[1]?.split('/').pop()?.replace(/\.js$/, '')} ${what}\n`);
  }
  process.exit(code);
}
