/** A progress bar on stderr when it is a TTY (bytes, rate, ETA); silent otherwise. */
import type { ProgressSink } from '@rkt/api';

function human(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

export class TtyProgress implements ProgressSink {
  private label = '';
  private total: number | undefined;
  private done_ = 0;
  private started = 0;
  private last = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  static forStderr(): ProgressSink | undefined {
    return process.stderr.isTTY ? new TtyProgress() : undefined;
  }

  start(label: string, total?: number): void {
    this.label = label;
    this.total = total;
    this.done_ = 0;
    this.started = Date.now();
    this.last = 0;
  }

  advance(bytes: number): void {
    this.done_ += bytes;
    const now = Date.now();
    if (now - this.last >= 200) {
      this.last = now;
      this.draw(now);
    }
  }

  done(): void {
    this.draw(Date.now());
    this.out.write('\n');
  }

  private draw(now: number): void {
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = this.done_ / secs;
    let bar = '';
    let eta = '';
    if (this.total) {
      const frac = Math.min(this.done_ / this.total, 1);
      const width = 30;
      const fill = Math.round(frac * width);
      bar = `[${'='.repeat(fill)}${' '.repeat(width - fill)}] ${human(this.done_)}/${human(this.total)}`;
      if (rate > 0 && frac < 1) eta = ` ETA ${Math.ceil((this.total - this.done_) / rate)}s`;
    } else bar = `${human(this.done_)} of an unknown total size`;
    this.out.write(`\r${this.label}: ${bar} ${human(rate)}/s${eta}\x1b[K`);
  }
}
