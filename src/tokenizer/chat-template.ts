// Chat templates: Jinja text from tokenizer_config.json or chat_template.jinja, rendered by
// @huggingface/jinja (which, like transformers' environment, trims and lstrips blocks).

import { Template } from "@huggingface/jinja";

export class TokenizerError extends Error {}

export class ChatTemplateError extends TokenizerError {}

export interface ChatMessage {
  role: string;
  content: string;
  /** Further fields some templates read (tool_calls, reasoning_content, ...). */
  [key: string]: unknown;
}

export class ChatTemplate {
  /** Where the text came from, for error messages. */
  readonly source: string;
  readonly #template: Template;

  constructor(text: string, source: string) {
    this.source = source;
    try {
      this.#template = new Template(text);
    } catch (e) {
      throw new ChatTemplateError(`${source}: cannot parse the chat template: ${(e as Error).message}`);
    }
  }

  /** Errors, including the template's own raise_exception("..."), become a ChatTemplateError naming the source. */
  render(variables: Record<string, unknown>): string {
    try {
      return this.#template.render(variables);
    } catch (e) {
      throw new ChatTemplateError(`${this.source}: rendering the chat template failed: ${(e as Error).message}`);
    }
  }
}
