// The part of cli-progress (3.x, untyped JavaScript) that src/train/progress.ts uses.
declare module "cli-progress" {
  export interface Options {
    /** A format string, or a function that returns the whole line. */
    format?: string | ((options: Options, params: { value: number; total: number }, payload: Record<string, unknown>) => string);
    stream?: NodeJS.WritableStream;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    stopOnComplete?: boolean;
    etaBuffer?: number;
    fps?: number;
    barsize?: number;
  }
  export interface Bar {
    update(value: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  export class MultiBar {
    constructor(options: Options, preset?: unknown);
    create(total: number, start: number, payload?: Record<string, unknown>): Bar;
    log(text: string): void;
    /** Redraws, printing the messages logged since the last redraw. */
    update(): void;
    stop(): void;
  }
  export const Presets: { shades_classic: unknown; legacy: unknown; rect: unknown };
}
