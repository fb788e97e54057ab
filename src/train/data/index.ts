export { loadDataset, type LoadDatasetOptions } from "./load.ts";
export { collate, type CollateOptions } from "./collate.ts";
export { epochOrder, splitValidation } from "./order.ts";
export { packExamples } from "./pack.ts";
export { DATA_FORMATS, alpacaPrompt, type DataFormat } from "./formats.ts";
export type { DataTokenizer } from "./tokenize.ts";
export { DataError, type Example, type Batch } from "./types.ts";
