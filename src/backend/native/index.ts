// Loads the native kernel library built by node-gyp (native/, build/Release/peft_ts_native.node).

import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Backend } from "../kernels.ts";

const addonPath = fileURLToPath(new URL("../../../build/Release/peft_ts_native.node", import.meta.url));

export function loadNativeBackend(): Backend | Error {
  if (!existsSync(addonPath)) return new Error(`${addonPath} not built (run npm run build:native)`);
  try {
    const addon = createRequire(import.meta.url)(addonPath) as { makeBackend?: () => Backend };
    if (typeof addon.makeBackend !== "function") return new Error(`${addonPath} has no makeBackend`);
    return addon.makeBackend();
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}
