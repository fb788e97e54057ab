// A Hugging Face tokenizer folder, used as transformers uses it: encode / decode through
// @huggingface/tokenizers on tokenizer.json, special tokens and bos/eos rules from tokenizer_config.json
// (see files.ts), and chat templates rendered with the variables transformers passes.

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { ChatTemplateError, TokenizerError, type ChatMessage } from "./chat-template.ts";
import { readTokenizerFiles, SPECIAL_TOKEN_KEYS, type TokenizerFiles } from "./files.ts";

export interface EncodeOptions {
  /** Apply the post-processor's special tokens (bos/eos): transformers' add_special_tokens, default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** More template variables (e.g. enable_thinking, tools, date_string). */
  extra?: Record<string, unknown>;
  /** Which of several named templates (tokenizer_config's list form); default "default". */
  templateName?: string;
}

export class Tokenizer {
  readonly dir: string;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  /** Number of token ids, added tokens included (transformers' len(tokenizer)). */
  readonly vocabSize: number;
  readonly #tok: HfTokenizer;
  readonly #files: TokenizerFiles;
  readonly #cleanUpSpaces: boolean;

  private constructor(dir: string, files: TokenizerFiles) {
    this.dir = dir;
    this.#files = files;
    const config = { ...files.config, ...files.specialTokens, additional_special_tokens: files.extraSpecialTokens };
    try {
      this.#tok = new HfTokenizer(files.tokenizerJson, config);
    } catch (e) {
      throw new TokenizerError(`${dir}/tokenizer.json: cannot build the tokenizer: ${(e as Error).message}`);
    }
    const { bos_token, eos_token, pad_token, unk_token } = files.specialTokens;
    [this.bosToken, this.eosToken, this.padToken, this.unkToken] = [bos_token, eos_token, pad_token, unk_token];
    const id = (t: string | null): number | null => (t === null ? null : (this.#tok.token_to_id(t) ?? null));
    [this.bosTokenId, this.eosTokenId, this.padTokenId, this.unkTokenId] = [id(bos_token), id(eos_token), id(pad_token), id(unk_token)];
    this.vocabSize = files.vocabSize;
    // Recent transformers ignores clean_up_tokenization_spaces for BPE models, where it corrupts text
    // ("a ." would lose its space); only WordPiece-style models still get the clean-up.
    const isBpe = (files.tokenizerJson.model as { type?: string } | undefined)?.type === "BPE";
    this.#cleanUpSpaces = files.config.clean_up_tokenization_spaces === true && !isBpe;
  }

  static fromDir(dir: string): Tokenizer {
    return new Tokenizer(dir, readTokenizerFiles(dir));
  }

  get hasChatTemplate(): boolean {
    return this.#files.chatTemplates.size > 0;
  }

  encode(text: string, { addSpecialTokens = true }: EncodeOptions = {}): number[] {
    return this.#tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** Ids with no token (e.g. a model's padded vocabulary rows) are skipped, as the Rust tokenizer skips them. */
  decode(ids: readonly number[], { skipSpecialTokens = false }: DecodeOptions = {}): string {
    const known = ids.filter((i) => this.#tok.id_to_token(i) !== undefined);
    if (known.length === 0) return "";
    return this.#tok.decode(known, { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: this.#cleanUpSpaces });
  }

  tokenToId(token: string): number | undefined {
    return this.#tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#tok.id_to_token(id);
  }

  /** Renders the chat template as transformers' apply_chat_template(tokenize=False). */
  applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = false, extra = {}, templateName = "default" }: ChatTemplateOptions = {}): string {
    const templates = this.#files.chatTemplates;
    if (templates.size === 0) {
      throw new ChatTemplateError(`${this.dir}: the tokenizer has no chat template (looked in ${this.#files.chatTemplateSearched.join(" and ")})`);
    }
    const template = templates.get(templateName);
    if (!template) throw new ChatTemplateError(`${this.dir}: no chat template named "${templateName}" (there are: ${[...templates.keys()].join(", ")})`);
    return template.render({ ...this.#specialTokenVariables(), messages, tools: null, documents: null, add_generation_prompt: addGenerationPrompt, ...extra });
  }

  /** transformers' apply_chat_template(tokenize=True): render, then encode without adding special tokens. */
  encodeChat(messages: ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }

  /** bos_token, eos_token, ... as strings (the ones that are set), plus additional_special_tokens. */
  #specialTokenVariables(): Record<string, unknown> {
    const vars: Record<string, unknown> = {};
    for (const k of SPECIAL_TOKEN_KEYS) if (this.#files.specialTokens[k] !== null) vars[k] = this.#files.specialTokens[k];
    if (this.#files.extraSpecialTokens.length > 0) vars.additional_special_tokens = this.#files.extraSpecialTokens;
    return vars;
  }
}
