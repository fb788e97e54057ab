// Atomic writes under injected faults: a full disk mid-write, a failed fsync or rename, and a "crash"
// (every file operation failing from some point on) in the middle of a directory swap.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtomicWriteError, commitDirAtomic, createTempDirFor, openAtomic, writeFileAtomic, type AtomicFs } from "../../src/io/atomic.ts";
import { writeSafetensors, SafetensorsReader } from "../../src/io/safetensors.ts";
import { Tensor } from "../../src/tensor/tensor.ts";

const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-atomic-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  const d = join(tmp, `d${dirCount++}`);
  fs.mkdirSync(d);
  return d;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** node:fs with writeSync failing with ENOSPC once `budget` bytes have been written. */
function diskFullAfter(budget: number): AtomicFs {
  let written = 0;
  return {
    ...fs,
    writeSync: ((fd: number, buf: Uint8Array, off?: number, len?: number) => {
      const n = Math.min(len ?? buf.byteLength, budget - written);
      if (n <= 0) throw errno("ENOSPC");
      written += n;
      return fs.writeSync(fd, buf, off, n); // a short write first, as a filling disk does
    }) as AtomicFs["writeSync"],
  };
}

function failing(call: keyof AtomicFs, code = "EIO"): AtomicFs {
  return { ...fs, [call]: () => { throw errno(code); } } as AtomicFs;
}

describe("writeFileAtomic / openAtomic", () => {
  it("writes and replaces a file, leaving no temporary file", () => {
    const d = freshDir();
    const p = join(d, "config.json");
    writeFileAtomic(p, '{"a": 1}');
    writeFileAtomic(p, new Uint8Array([104, 105]));
    assert.equal(fs.readFileSync(p, "utf8"), "hi");
    assert.deepEqual(fs.readdirSync(d), ["config.json"]);
  });

  it("a full disk mid-write: clear error naming the file, previous file intact, no temporary file", () => {
    const d = freshDir();
    const p = join(d, "model.safetensors");
    fs.writeFileSync(p, "previous good copy");
    assert.throws(
      () => writeFileAtomic(p, new Uint8Array(1000).fill(1), { fs: diskFullAfter(300) }),
      (e: unknown) => e instanceof AtomicWriteError && e.code === "ENOSPC" && e.message.includes(p) && /no space left on device/.test(e.message),
    );
    assert.equal(fs.readFileSync(p, "utf8"), "previous good copy");
    assert.deepEqual(fs.readdirSync(d), ["model.safetensors"]);
  });

  for (const call of ["fsyncSync", "renameSync"] as const) {
    it(`a failing ${call} at commit leaves the previous file and no temporary file`, () => {
      const d = freshDir();
      const p = join(d, "f.bin");
      fs.writeFileSync(p, "old");
      assert.throws(() => writeFileAtomic(p, "new", { fs: failing(call) }), (e: unknown) => e instanceof AtomicWriteError && e.message.includes(p) && /EIO/.test(e.message));
      assert.equal(fs.readFileSync(p, "utf8"), "old");
      assert.deepEqual(fs.readdirSync(d), ["f.bin"]);
    });
  }

  it("cannot create the temporary file (missing directory): error names the target", () => {
    const p = join(tmp, "no-such-dir", "f.bin");
    assert.throws(() => writeFileAtomic(p, "x"), (e: unknown) => e instanceof AtomicWriteError && e.message.includes(p) && e.code === "ENOENT");
  });

  it("streams: nothing is visible before commit; abort discards; no writes after the end", () => {
    const d = freshDir();
    const p = join(d, "big.bin");
    const f = openAtomic(p);
    f.write(new Uint8Array([1, 2]));
    f.write(new Uint8Array([3]));
    assert.ok(!fs.existsSync(p));
    f.commit();
    assert.deepEqual([...fs.readFileSync(p)], [1, 2, 3]);
    assert.throws(() => f.write(new Uint8Array([4])), AtomicWriteError);

    const g = openAtomic(p);
    g.write(new Uint8Array([9]));
    g.abort();
    g.abort();
    assert.deepEqual([...fs.readFileSync(p)], [1, 2, 3]);
    assert.deepEqual(fs.readdirSync(d), ["big.bin"]);
  });

  it("a safetensors save that hits a full disk keeps the previous file readable", () => {
    const d = freshDir();
    const p = join(d, "model.safetensors");
    writeSafetensors(p, { w: Tensor.fromArray([1, 2, 3]) });
    const big = Tensor.fromArray(new Array(4096).fill(5));
    assert.throws(
      () => writeSafetensors(p, { w: big }, undefined, { fs: diskFullAfter(8000) }),
      (e: unknown) => e instanceof AtomicWriteError && e.code === "ENOSPC" && e.message.includes(p),
    );
    const r = SafetensorsReader.open(p);
    assert.deepEqual(Array.from(r.read("w").data as Float32Array), [1, 2, 3]);
    r.close();
    assert.deepEqual(fs.readdirSync(d), ["model.safetensors"]);
  });
});

describe("commitDirAtomic", () => {
  function fill(dir: string, files: Record<string, string>): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(join(dir, name), text);
  }
  const read = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(join(dir, f), "utf8")]));

  it("moves a new folder into place, replacing the previous one and removing it afterwards", () => {
    const parent = freshDir();
    const final = join(parent, "checkpoint-10");
    fill(final, { "old.txt": "old" });
    const staged = createTempDirFor(final);
    assert.equal(join(staged, ".."), parent);
    fill(staged, { "adapter_config.json": "{}", "adapter_model.safetensors": "w" });
    fs.mkdirSync(join(staged, "sub"));
    fs.writeFileSync(join(staged, "sub", "x"), "y");
    commitDirAtomic(staged, final);
    assert.equal(fs.readFileSync(join(final, "adapter_model.safetensors"), "utf8"), "w");
    assert.deepEqual(fs.readdirSync(final).sort(), ["adapter_config.json", "adapter_model.safetensors", "sub"]);
    assert.equal(fs.readFileSync(join(final, "sub", "x"), "utf8"), "y");
    assert.deepEqual(fs.readdirSync(parent), ["checkpoint-10"]);
  });

  it("works when there is no previous copy", () => {
    const parent = freshDir();
    const final = join(parent, "out");
    const staged = createTempDirFor(final);
    fill(staged, { a: "1" });
    commitDirAtomic(staged, final);
    assert.deepEqual(read(final), { a: "1" });
    assert.deepEqual(fs.readdirSync(parent), ["out"]);
  });

  it("a failed rename of the new copy puts the previous copy back", () => {
    const parent = freshDir();
    const final = join(parent, "out");
    fill(final, { a: "old" });
    const staged = createTempDirFor(final);
    fill(staged, { a: "new" });
    let renames = 0;
    const secondRenameFails: AtomicFs = {
      ...fs,
      renameSync: ((from: fs.PathLike, to: fs.PathLike) => {
        if (++renames === 2) throw errno("EXDEV");
        fs.renameSync(from, to);
      }) as AtomicFs["renameSync"],
    };
    assert.throws(() => commitDirAtomic(staged, final, { fs: secondRenameFails }), (e: unknown) => e instanceof AtomicWriteError && e.message.includes(final));
    assert.deepEqual(read(final), { a: "old" });
    assert.deepEqual(read(staged), { a: "new" });
  });

  it("a crash between the two renames leaves the previous copy complete at <final>.previous", () => {
    const parent = freshDir();
    const final = join(parent, "out");
    fill(final, { a: "old", b: "old" });
    const staged = createTempDirFor(final);
    fill(staged, { a: "new" });
    // From the second rename on, every call fails: the process is gone.
    let crashed = false;
    let renames = 0;
    const dead = (): never => {
      crashed = true;
      throw errno("EIO");
    };
    const crashing: AtomicFs = {
      ...fs,
      renameSync: ((from: fs.PathLike, to: fs.PathLike) => (crashed || ++renames === 2 ? dead() : fs.renameSync(from, to))) as AtomicFs["renameSync"],
      rmSync: ((p: fs.PathLike, o?: fs.RmOptions) => (crashed ? dead() : fs.rmSync(p, o))) as AtomicFs["rmSync"],
    };
    assert.throws(() => commitDirAtomic(staged, final, { fs: crashing }));
    assert.ok(!fs.existsSync(final));
    assert.deepEqual(read(`${final}.previous`), { a: "old", b: "old" });
    // The next commit succeeds and clears the leftover.
    commitDirAtomic(staged, final);
    assert.deepEqual(read(final), { a: "new" });
    assert.deepEqual(fs.readdirSync(parent), ["out"]);
  });
});
