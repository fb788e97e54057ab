// Crash-safe file and directory writes.
//
// A file is written to a temporary name in the same directory (so the final rename never crosses a file
// system), flushed with fsync, renamed over the target, and the directory is fsynced so the rename itself
// survives a power loss. Until the rename, the previous file is untouched; after any failure the temporary
// file is removed. Directories are swapped the same way, keeping the previous copy aside until the new one
// is in place.
//
// Every function takes an optional `fs` (the handful of node:fs calls used here), so tests can inject
// faults such as a full disk without needing one.

import * as nodeFs from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export type AtomicFs = Pick<
  typeof nodeFs,
  "openSync" | "writeSync" | "fsyncSync" | "closeSync" | "renameSync" | "rmSync" | "existsSync" | "readdirSync" | "lstatSync" | "mkdtempSync"
>;

export interface AtomicOptions {
  fs?: AtomicFs;
}

/** A failed atomic write: names the target, says what failed; the previous content is still in place. */
export class AtomicWriteError extends Error {
  readonly path: string;
  readonly code: string | undefined;
  constructor(path: string, what: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = code === "ENOSPC" ? "no space left on device (ENOSPC)" : errorText(cause);
    super(`${what} ${path}: ${reason}; the previous content is unchanged`, { cause });
    this.path = path;
    this.code = code;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** fsyncs a directory so a rename or unlink inside it is durable. */
export function fsyncDir(fs: AtomicFs, dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export interface AtomicFile {
  /** Appends bytes (written through to the temporary file; nothing is buffered here). */
  write(bytes: Uint8Array): void;
  /** Flushes, renames over the target and makes the rename durable. */
  commit(): void;
  /** Discards the temporary file; the target is untouched. Safe to call after a failure or twice. */
  abort(): void;
}

/** Opens a streaming atomic write of `path`: for large files, which are never held in memory whole. */
export function openAtomic(path: string, options: AtomicOptions = {}): AtomicFile {
  const fs = options.fs ?? nodeFs;
  const tmp = tempName(path);
  let fd: number | null;
  try {
    fd = fs.openSync(tmp, "wx");
  } catch (e) {
    throw new AtomicWriteError(path, "creating a temporary file for", e);
  }
  let done = false;

  const closeFd = (): void => {
    if (fd === null) return;
    const f = fd;
    fd = null;
    fs.closeSync(f);
  };
  const abort = (): void => {
    if (done) return;
    done = true;
    try {
      closeFd();
    } catch {
      // the descriptor is gone either way; removing the temporary file is what matters
    }
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing more can be done here, and the error that led to the abort is the one to report
    }
  };
  const failing = (what: string, e: unknown): never => {
    abort();
    throw new AtomicWriteError(path, what, e);
  };

  return {
    write(bytes: Uint8Array): void {
      if (done || fd === null) throw new AtomicWriteError(path, "writing", new Error("write after commit or abort"));
      try {
        // writeSync may write less than asked (large buffers, signals): loop until all bytes are out.
        for (let off = 0; off < bytes.byteLength; ) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
      } catch (e) {
        failing("writing", e);
      }
    },
    commit(): void {
      if (done || fd === null) throw new AtomicWriteError(path, "committing", new Error("commit after commit or abort"));
      try {
        fs.fsyncSync(fd);
        closeFd();
        fs.renameSync(tmp, path);
      } catch (e) {
        failing("committing", e);
      }
      done = true;
      fsyncDir(fs, dirname(path));
    },
    abort,
  };
}

/** Writes a whole file atomically (see the file comment). */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicOptions = {}): void {
  const file = openAtomic(path, options);
  file.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
  file.commit();
}

/**
 * A fresh empty directory beside `finalDir` (same file system), to fill and then pass to commitDirAtomic.
 * mkdtemp makes it private (0700); it gets the mode mkdir gives under the user's umask, as the folder it
 * becomes would have had.
 */
export function createTempDirFor(finalDir: string, options: AtomicOptions = {}): string {
  const fs = options.fs ?? nodeFs;
  const dir = fs.mkdtempSync(join(dirname(finalDir), `.${basename(finalDir)}.tmp-`));
  nodeFs.chmodSync(dir, 0o777 & ~process.umask());
  return dir;
}

function fsyncTree(fs: AtomicFs, dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const p = join(dir, name);
    if (fs.lstatSync(p).isDirectory()) {
      fsyncTree(fs, p);
      continue;
    }
    const fd = fs.openSync(p, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  fsyncDir(fs, dir);
}

/**
 * Replaces `finalDir` with the fully written `tmpDir`. An existing `finalDir` is first renamed to
 * `<finalDir>.previous` and deleted only after the new copy is in place, so after a crash at any point
 * either `finalDir` or `<finalDir>.previous` holds a complete copy.
 */
export function commitDirAtomic(tmpDir: string, finalDir: string, options: AtomicOptions = {}): void {
  const fs = options.fs ?? nodeFs;
  const parent = dirname(finalDir);
  const aside = `${finalDir}.previous`;
  try {
    fsyncTree(fs, tmpDir);
  } catch (e) {
    throw new AtomicWriteError(finalDir, "flushing the new copy of", e);
  }
  let movedAside = false;
  if (fs.existsSync(finalDir)) {
    // A leftover `.previous` next to an intact finalDir is an older copy: finalDir supersedes it.
    fs.rmSync(aside, { recursive: true, force: true });
    try {
      fs.renameSync(finalDir, aside);
    } catch (e) {
      throw new AtomicWriteError(finalDir, "moving aside the previous copy of", e);
    }
    movedAside = true;
  }
  try {
    fs.renameSync(tmpDir, finalDir);
  } catch (e) {
    if (movedAside) fs.renameSync(aside, finalDir);
    throw new AtomicWriteError(finalDir, "renaming the new copy into", e);
  }
  fsyncDir(fs, parent);
  fs.rmSync(aside, { recursive: true, force: true });
}
