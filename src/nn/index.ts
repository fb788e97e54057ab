export { Module, type Parameter } from "./module.ts";
export { Linear, Embedding, RMSNorm, LayerNorm, type Forward } from "./layers.ts";
