// Headless Chromium for the tests that look at pages (the training reports). The browser comes from the
// @sparticuz/chromium dev dependency, which ships a headless Chromium build inside its npm package
// (brotli-compressed, with the NSS libraries it links against and one font), so `npm ci && npm test`
// needs no browser, library or font installed on the machine. The package's own unpacker writes to a
// fixed /tmp path shared by every process and reuses whatever it finds there; instead the files are
// unpacked here, once per checkout, into node_modules/.cache/peft-ts-chromium-<version>/ (about 30 s the
// first time), through a temporary folder renamed into place, so concurrent test files never see a
// half-written binary.

import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { brotliDecompressSync, createBrotliDecompress } from "node:zlib";
import { chromium, type BrowserContext } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

const ARGS = ["--no-sandbox", "--no-zygote", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** The folder holding the package's compressed files (chromium.br, al2023.tar.br, fonts.tar.br). */
function packageDir(): { bin: string; version: string } {
  const entry = createRequire(import.meta.url).resolve("@sparticuz/chromium");
  // build/cjs/ holds a package.json of its own (a module-type marker): walk up to the package's.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const { name, version } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version: string };
    if (name === "@sparticuz/chromium") return { bin: join(dir, "bin"), version };
  }
  throw new Error(`browser: no package.json of @sparticuz/chromium above ${entry}`);
}

/** Writes the regular files and folders of an uncompressed tar archive (ustar) under `dest`. */
function untar(archive: Buffer, dest: string): void {
  for (let off = 0; off + 512 <= archive.length; ) {
    const header = archive.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number) => header.subarray(start, start + len).toString("latin1").replace(/\0.*$/s, "");
    const name = [field(345, 155), field(0, 100)].filter((s) => s !== "").join("/");
    const size = parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1) || "0";
    if (name.split("/").includes("..")) throw new Error(`browser: archive entry ${name} leaves its folder`);
    const path = join(dest, name);
    if (type === "5") mkdirSync(path, { recursive: true });
    else if (type === "0") {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, archive.subarray(off + 512, off + 512 + size), { mode: parseInt(field(100, 8).trim() || "644", 8) & 0o777 });
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
}

/** The unpacked browser folder: `chromium`, `lib/` (NSS, NSPR, expat), `fonts/` and a fonts.conf naming it. */
async function unpacked(): Promise<string> {
  const { bin, version } = packageDir();
  const cache = join(ROOT, "node_modules", ".cache");
  const dir = join(cache, `peft-ts-chromium-${version}`);
  if (existsSync(join(dir, "chromium"))) return dir;
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, `.peft-ts-chromium-${version}.tmp-`));
  try {
    await pipeline(createReadStream(join(bin, "chromium.br")), createBrotliDecompress(), createWriteStream(join(tmp, "chromium"), { mode: 0o755 }));
    untar(brotliDecompressSync(readFileSync(join(bin, "al2023.tar.br"))), tmp);
    untar(brotliDecompressSync(readFileSync(join(bin, "fonts.tar.br"))), tmp);
    writeFileSync(join(tmp, "fonts.conf"), `<?xml version="1.0"?>\n<fontconfig><dir>${join(dir, "fonts")}</dir><cachedir>${join(dir, "fonts-cache")}</cachedir></fontconfig>\n`);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // Another test file unpacked the same version first: use its copy.
    if (existsSync(join(dir, "chromium"))) return dir;
    throw e;
  }
  return dir;
}

/**
 * A headless Chromium with a fresh profile under `profileParent` (nothing cached or synced from another
 * run takes part), offline apart from what the caller routes.
 */
export async function launchBrowser(profileParent: string, viewport = { width: 1200, height: 900 }): Promise<BrowserContext> {
  const dir = await unpacked();
  const context = await chromium.launchPersistentContext(mkdtempSync(join(profileParent, "profile-")), {
    executablePath: join(dir, "chromium"),
    headless: true,
    args: ARGS,
    viewport,
    env: { ...process.env, LD_LIBRARY_PATH: join(dir, "lib"), FONTCONFIG_FILE: join(dir, "fonts.conf") },
  });
  // tsx compiles test files with esbuild's keepNames, which wraps the functions passed to page.evaluate
  // in __name(fn, "name"); the page needs that helper to run them.
  await context.addInitScript("globalThis.__name = (fn) => fn;");
  return context;
}
