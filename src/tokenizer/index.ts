export { Tokenizer, type ChatTemplateOptions, type DecodeOptions, type EncodeOptions } from "./tokenizer.ts";
export { ChatTemplateError, TokenizerError, type ChatMessage } from "./chat-template.ts";
