import type { LlmMessage, LlmRequest } from '../core/request.js';
import { valueForSchema, type ValueContext } from './jsonSchemaValue.js';
import type { Rng } from './prng.js';
import { countTokens, tokenize } from './tokenize.js';
import {
  asSentence,
  chooseSentimentLabel,
  contentWords,
  isNegated,
  keywordsOf,
  offeredLabels,
  properNouns,
  readCount,
  sentences,
  summarize,
  topKeywords,
  words,
} from './textAnalysis.js';

/** What one choice of a simulated answer says: text, or one tool call. */
export type ChoiceAnswer =
  | { type: 'text'; text: string }
  | { type: 'tool-call'; id: string; name: string; arguments: string };

/** The parts of a conversation the answer is built from. */
interface Prompt {
  /** System and developer messages, then the last user message: where the task is stated. */
  instructions: string;
  /** The text the task is about. */
  input: string;
  /** Every user and tool message, for free-form answers. */
  conversation: string;
  /** The tool message that ends the conversation, if it ends with one. */
  toolResult?: string;
}

type Task =
  | { type: 'sentiment'; labels: string[] }
  | { type: 'keywords'; count: number; format: 'comma' | 'lines' | 'json' }
  | { type: 'summary'; sentences: number; maxWords: number }
  | { type: 'reply'; sentences: number; tone: Tone }
  | { type: 'free' };

/** How a drafted reply opens: thanks, an apology, or a plain acknowledgement. */
type Tone = 'positive' | 'negative' | 'neutral';

/**
 * The answer a plausible model would give, from the request alone and the
 * answer's own randomness (so the same request and seed give the same answer):
 *
 * - tools offered (and `tool_choice` not `"none"`, and the last message not a
 *   tool result) → a call of the tool that best matches the prompt, with
 *   arguments valid for its parameters;
 * - `response_format` `json_schema` → JSON valid for the schema, the task's own answer where the
 *   schema has room for it (a root string, a step's `{ "value": … }` wrapper, a list of strings
 *   when keywords are asked); `json_object` → a JSON object;
 * - a sentiment (or other classification) prompt → one of the labels the prompt names;
 * - "extract N keywords" → exactly N keywords from the input (things first, then its phrases);
 * - "summarize (in N sentences)" → the input's main sentences compressed, shorter than the input
 *   and never the input itself (see `summarize`);
 * - "draft / write / compose a (N-sentence) reply / response / answer to" a
 *   customer, message, email, review, ticket, complaint … → an N-sentence
 *   (default 2) customer-service reply about the input's main keywords, opening
 *   with thanks, an apology or an acknowledgement after the sentiment word the
 *   instruction names (positive, negative, neutral, happy, angry, …);
 * - small talk ("hi there", "thanks!", "how are you?") → a one-line reply;
 * - a prompt of a few words ("What is RxJS?") → two short sentences about its words,
 *   unless `options.lengthSet` (a per-request `tokens=` override asks for a length);
 * - anything else → fluent filler about the prompt's topics, `freeFormTokens` tokens long.
 */
export function composeAnswer(request: LlmRequest, rng: Rng, freeFormTokens: number, options: { lengthSet?: boolean } = {}): ChoiceAnswer {
  const prompt = readPrompt(request.messages);
  const task = recogniseTask(prompt.instructions);
  const keywordCount = task.type === 'keywords' ? task.count : undefined;
  const context: ValueContext = { rng, input: prompt.input, ...(keywordCount === undefined ? {} : { keywordCount }) };

  const toolCall = chooseToolCall(request, prompt, context);
  if (toolCall) return toolCall;

  const format = request.response_format;
  if (format?.type === 'json_schema') {
    const schema = format.json_schema.schema ?? { type: 'object', properties: {} };
    const taskText = () => textFor(task, prompt, rng, Math.min(freeFormTokens, 60));
    return { type: 'text', text: JSON.stringify(valueForSchema(schema, { ...context, taskText })) };
  }
  if (format?.type === 'json_object') return { type: 'text', text: JSON.stringify(jsonObjectFor(task, prompt, rng, freeFormTokens)) };

  return { type: 'text', text: textFor(task, prompt, rng, freeFormTokens, options.lengthSet === true) };
}

/** The plain-text answer to a task. */
function textFor(task: Task, prompt: Prompt, rng: Rng, freeFormTokens: number, lengthSet = false): string {
  switch (task.type) {
    case 'sentiment':
      return chooseSentimentLabel(prompt.input, task.labels, rng.int(task.labels.length));
    case 'keywords':
      return formatKeywords(keywordsOf(prompt.input, task.count), task.format);
    case 'summary':
      return summaryOf(prompt.input, task.sentences, task.maxWords);
    case 'reply':
      return replyOf(prompt.input, task, rng);
    default:
      return freeForm(prompt, rng, freeFormTokens, lengthSet);
  }
}

function readPrompt(messages: readonly LlmMessage[]): Prompt {
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map(messageText)
    .join('\n');
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const userText = lastUser ? messageText(lastUser) : '';
  const last = messages[messages.length - 1];
  const toolResult = last?.role === 'tool' || last?.role === 'function' ? messageText(last) : undefined;
  const conversation = messages
    .filter((m) => m.role === 'user' || m.role === 'tool' || m.role === 'function')
    .map(messageText)
    .join('\n');
  // When the system message states the task, the user message is all input;
  // otherwise the input usually follows the instruction after a colon, a blank line or in quotes.
  // The task is read from the instruction alone, so an input that mentions "summary" is not taken for a request.
  let instructions = `${system}\n${userText}`;
  let input = userText;
  if (recogniseTask(system).type !== 'free') instructions = system;
  else {
    input = inputAfterInstruction(userText, recogniseTask(userText).type !== 'free');
    if (input !== userText) instructions = `${system}\n${userText.replace(input, '')}`;
  }
  return { instructions, input: toolResult ?? input, conversation, ...(toolResult === undefined ? {} : { toolResult }) };
}

function messageText(message: LlmMessage): string {
  const content = (message as { content?: unknown }).content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) => (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

function inputAfterInstruction(text: string, statesTask: boolean): string {
  const afterColonLine = /^[^\n]*?[:?]\s*\n+([\s\S]+)$/.exec(text);
  if (afterColonLine?.[1]?.trim()) return afterColonLine[1].trim();
  const afterBlank = /^[\s\S]*?\n\s*\n([\s\S]+)$/.exec(text);
  if (afterBlank?.[1]?.trim()) return afterBlank[1].trim();
  const quoted = /["“]([^"”]{12,})["”]/.exec(text);
  if (quoted?.[1]) return quoted[1].trim();
  const colon = text.indexOf(':');
  // "Summarize in one sentence: The build is green." A stated task makes a short input after its colon input too.
  if (colon !== -1 && contentWords(text.slice(colon + 1)).length >= (statesTask ? 1 : 3)) return text.slice(colon + 1).trim();
  return text;
}

const COUNT = String.raw`(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a|single)`;
const SENTIMENT = /\bsentiment\b|\b(?:classify|categori[sz]e|label)\b/i;
const KEYWORDS = /\b(?:key ?words?|key ?phrases?|tags|key terms)\b/i;
const SUMMARY = /\bsummar(?:y|ies|i[sz]e|i[sz]ing)\b|\btl;?dr\b/i;
// Who or what a reply answers. Requiring one keeps "write an answer to this question" (a question
// to answer, not a customer to reply to) and prompts that merely mention a reply out of this task.
const CORRESPONDENT = String.raw`customers?|clients?|buyers?|shoppers?|guests?|patients?|callers?|subscribers?|reviewers?|messages?|e-?mails?|letters?|reviews?|tickets?|complaints?|comments?|feedback|inquir(?:y|ies)|enquir(?:y|ies)|posts?|tweets?`;
const REPLY = new RegExp(
  String.raw`\b(?:draft|write|compose|prepare|craft)\s+(?:[\w-]+,?\s+){0,3}?(?:repl(?:y|ies)|responses?|answers?)\s+(?:(?:in|of)\s+[\w-]+\s+sentences?\s+)?(?:to|for)\s+(?:[\w'’-]+\s+){0,3}?(?:${CORRESPONDENT})\b`,
  'i',
);
const CORRESPONDENT_WORD = new RegExp(String.raw`^(?:${CORRESPONDENT})$`, 'i');

function recogniseTask(instructions: string): Task {
  const found = [
    { at: instructions.search(SENTIMENT), task: (): Task => ({ type: 'sentiment', labels: offeredLabels(instructions) }) },
    { at: instructions.search(KEYWORDS), task: (): Task => keywordsTask(instructions) },
    { at: instructions.search(SUMMARY), task: (): Task => summaryTask(instructions) },
    { at: replyAt(instructions), task: (): Task => replyTask(instructions) },
  ]
    .filter(({ at }) => at !== -1)
    .sort((a, b) => a.at - b.at);
  // When a prompt names several tasks, the one it states first is the one it asks for.
  return found[0]?.task() ?? { type: 'free' };
}

function keywordsTask(instructions: string): Task {
  const counted = new RegExp(String.raw`\b${COUNT}\s+(?:[\w-]+\s+){0,2}(?:key ?words?|key ?phrases?|tags|key terms)\b`, 'i').exec(instructions);
  const count = Math.min(50, Math.max(1, readCount(counted?.[1]) ?? 5));
  const format = /\bjson\b|\barray\b/i.test(instructions)
    ? 'json'
    : /one per line|per line|bullet|newline/i.test(instructions)
      ? 'lines'
      : 'comma';
  return { type: 'keywords', count, format };
}

function summaryTask(instructions: string): Task {
  const counted = new RegExp(String.raw`\b(?:in|into|as|to|with|using)\s+(?:just\s+|only\s+|exactly\s+)?${COUNT}\s+(?:short\s+|brief\s+|concise\s+)?sentences?\b`, 'i').exec(instructions);
  const oneSentence = /\bone[- ]sentence\b|\bsingle sentence\b/i.test(instructions);
  const words = /\b(?:under|at most|no more than|within|in|max(?:imum)?(?: of)?)\s+(\d+)\s+words\b/i.exec(instructions);
  return {
    type: 'summary',
    sentences: oneSentence ? 1 : Math.min(10, readCount(counted?.[1]) ?? 2),
    maxWords: words?.[1] ? Math.max(3, Number(words[1])) : 28,
  };
}

/** Where the reply task is stated: at its noun, so "write a summary and a reply" still states the summary first. */
function replyAt(instructions: string): number {
  const match = REPLY.exec(instructions);
  return match ? match.index + match[0].search(/\b(?:repl(?:y|ies)|responses?|answers?)\b/i) : -1;
}

function replyTask(instructions: string): Task {
  const counted =
    new RegExp(String.raw`\b${COUNT}[- ]sentences?\b`, 'i').exec(instructions) ??
    new RegExp(String.raw`\b(?:in|of|with)\s+(?:just\s+|only\s+|exactly\s+)?${COUNT}\s+(?:short\s+|brief\s+)?sentences?\b`, 'i').exec(instructions);
  return { type: 'reply', sentences: Math.min(10, Math.max(1, readCount(counted?.[1]) ?? 2)), tone: toneOf(instructions) };
}

const POSITIVE_TONE = /^(?:positive|happy|pleased|satisfied|delighted|glad|grateful|enthusiastic|praise|compliment)$/i;
const NEGATIVE_TONE = /^(?:negative|unhappy|angry|upset|annoyed|frustrated|dissatisfied|disappointed|furious|complain(?:t|ing|ed)?)$/i;

/** The tone the first sentiment word of the instructions calls for; "not happy" calls for an apology. */
function toneOf(instructions: string): Tone {
  const all = words(instructions).map((word) => word.toLowerCase());
  for (const [index, word] of all.entries()) {
    const tone: Tone | undefined = POSITIVE_TONE.test(word) ? 'positive' : NEGATIVE_TONE.test(word) ? 'negative' : undefined;
    if (!tone) continue;
    if (!isNegated(all, index)) return tone;
    return tone === 'positive' ? 'negative' : 'neutral';
  }
  return 'neutral';
}


function formatKeywords(keywords: string[], format: 'comma' | 'lines' | 'json'): string {
  if (format === 'json') return JSON.stringify(keywords);
  if (format === 'lines') return keywords.map((keyword) => `- ${keyword}`).join('\n');
  return keywords.join(', ');
}

function summaryOf(input: string, count: number, maxWords: number): string {
  return summarize(input, count, maxWords) || 'There is nothing to summarize.';
}

const REPLY_OPENERS: Record<Tone, string[]> = {
  positive: [
    'Thank you for your kind words about {a}.',
    'We are glad to hear you are happy with {a}.',
    'Thanks so much for sharing your experience with {a}.',
  ],
  negative: [
    'We are sorry about the trouble with {a}.',
    'We apologise for the problems you ran into with {a}.',
    'We are very sorry to hear about your experience with {a}.',
  ],
  neutral: [
    'We have received your message about {a}.',
    'We have noted your message about {a}.',
    'Your message about {a} has been received by our team.',
  ],
};
// As in free-form answers, topics only ever fill object positions, so any keyword reads grammatically.
const REPLY_FOLLOW_UPS: Record<Tone, string[]> = {
  positive: [
    'We will pass your feedback on {a} to the team.',
    'Feedback like yours about {a} helps us decide what to improve next.',
    'If you ever have questions about {a}, we are always happy to help.',
  ],
  negative: [
    'Our team is looking into {a} now and will update you within one business day.',
    'We have shared the details about {a} with the people responsible so it does not happen again.',
    'Thank you for your patience while we sort out the problem with {a}.',
  ],
  neutral: [
    'A member of our team will review the details about {a} and get back to you soon.',
    'If there is anything else you can tell us about {a}, simply reply to this message.',
    'We will follow up as soon as we have more information about {a}.',
  ],
};
const REPLY_CLOSINGS = [
  'Please let us know if there is anything else we can do.',
  'We are here if you need anything else.',
  'Thank you for getting in touch.',
];

/**
 * A customer-service reply of `task.sentences` sentences: an opener in the task's
 * tone, follow-ups in the same tone, and (from three sentences on) a closing; each
 * opener and follow-up names the next of the input's main keywords.
 */
function replyOf(input: string, task: { sentences: number; tone: Tone }, rng: Rng): string {
  const topics = replyTopics(input);
  let next = 0;
  const fill = (template: string, fallback: string) => template.replace('{a}', topics.length === 0 ? fallback : topics[next++ % topics.length]!);
  const parts = [fill(rng.pick(REPLY_OPENERS[task.tone]), 'your experience')];
  // Drawn without repeats until all are used, so long replies do not loop on one sentence.
  let deck: string[] = [];
  const followUps = task.sentences >= 3 ? task.sentences - 2 : task.sentences - 1;
  for (let i = 0; i < followUps; i++) {
    if (deck.length === 0) deck = [...REPLY_FOLLOW_UPS[task.tone]];
    parts.push(fill(deck.splice(rng.int(deck.length), 1)[0]!, 'this'));
  }
  if (task.sentences >= 3) parts.push(rng.pick(REPLY_CLOSINGS));
  return parts.join(' ');
}

/**
 * Up to three of the input's main keywords as noun phrases ("the battery", "Lisbon"),
 * without the words for the correspondence itself ("customer", "ticket").
 */
function replyTopics(input: string): string[] {
  const names = new Set(properNouns(input));
  const candidates = topKeywords(input, 12).filter((word) => !CORRESPONDENT_WORD.test(word));
  // Keyword ranking favours long words, and long words are often verb or adverb forms ("closed", "easily").
  const nounLike = (word: string) => !/(?<!e)ed$|ly$/i.test(word);
  return [...candidates.filter(nounLike), ...candidates.filter((word) => !nounLike(word))]
    .slice(0, 3)
    .map((word) => (names.has(word) || /^\p{Lu}+$/u.test(word) ? word : `the ${word.toLowerCase()}`));
}

function jsonObjectFor(task: Task, prompt: Prompt, rng: Rng, freeFormTokens: number): Record<string, unknown> {
  switch (task.type) {
    case 'sentiment':
      return { sentiment: chooseSentimentLabel(prompt.input, task.labels, rng.int(task.labels.length)) };
    case 'keywords':
      return { keywords: keywordsOf(prompt.input, task.count) };
    case 'summary':
      return { summary: summaryOf(prompt.input, task.sentences, task.maxWords) };
    case 'reply':
      return { reply: replyOf(prompt.input, task, rng) };
    default:
      return { answer: freeForm(prompt, rng, Math.min(freeFormTokens, 60)) };
  }
}

function chooseToolCall(request: LlmRequest, prompt: Prompt, context: ValueContext): ChoiceAnswer | undefined {
  const tools = request.tools ?? [];
  const choice = request.tool_choice;
  if (tools.length === 0 || choice === 'none') return undefined;
  const named = typeof choice === 'object' ? tools.find((tool) => tool.function.name === choice.function.name) : undefined;
  // With "auto", a model that has just received a tool result answers in words.
  if (!named && choice !== 'required' && prompt.toolResult !== undefined) return undefined;
  const tool = named ?? bestMatchingTool(tools, prompt.instructions);
  const parameters = tool.function.parameters ?? { type: 'object', properties: {} };
  const args = valueForSchema(parameters, context);
  const id = `call_${Math.floor(context.rng.next() * 2 ** 32).toString(36)}${Math.floor(context.rng.next() * 2 ** 32).toString(36)}`;
  return { type: 'tool-call', id, name: tool.function.name, arguments: JSON.stringify(args) };
}

function bestMatchingTool<T extends { function: { name: string; description?: string } }>(tools: readonly T[], instructions: string): T {
  const promptWords = new Set(contentWords(instructions).map(stem));
  let best = tools[0]!;
  let bestScore = -1;
  for (const tool of tools) {
    const described = `${tool.function.name.replace(/[_-]/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2')} ${tool.function.description ?? ''}`;
    const score = new Set(contentWords(described).map(stem).filter((word) => promptWords.has(word))).size;
    if (score > bestScore) {
      best = tool;
      bestScore = score;
    }
  }
  return best;
}

function stem(word: string): string {
  return word.toLowerCase().replace(/(ing|ed|es|s)$/, '');
}

const OPENERS = [
  'Here is a short answer about {a}.',
  'Good question about {a}.',
  'Let me explain {a} briefly.',
  'In short, it comes down to {a} and {b}.',
];
// Topics only ever fill object positions, so the sentences stay grammatical whatever the words are.
const SENTENCES = [
  'The key idea is to look at {a} together with {b}.',
  'In practice, much depends on {b}, so it helps to start there.',
  'A useful way to think about {b} is as one part of {a}.',
  'Most of the time, it pays to get {a} right before worrying about {c}.',
  'The short answer is that there is a close link between {a} and {b}.',
  'It is worth checking {b} before drawing conclusions about {c}.',
  'One common approach is to compare {a} with {c} step by step.',
  'When something changes in {b}, it usually shows up in {a} as well.',
  'Keeping {c} simple makes the rest much easier to reason about.',
  'Many teams begin with {b} and refine their approach to {a} over time.',
  'The details of {c} vary, but the idea stays the same.',
  'A small example involving {b} often makes the point clear.',
  'It also helps to measure the effect of {a} rather than guess.',
  'Finally, revisit {c} once the basics of {a} are in place.',
];
// Small talk, answered as a chat model does: briefly, and never about "the topic" of a greeting.
const SMALL_TALK: [RegExp, string][] = [
  [/^\s*(?:hi|hello|hey|hiya|yo|howdy|greetings|good (?:morning|afternoon|evening|day))\b(?:\s+(?:there|all|everyone|everybody|folks|friend|again|you|team))?[\s!.,?:)]*$/i, 'Hello! How can I help you today?'],
  [/^\s*(?:(?:hi|hello|hey)[\s,!]+)?how are you(?: doing)?(?: today)?[\s!.,?]*$/i, "I'm doing well, thanks for asking. How can I help you today?"],
  [/^\s*(?:thanks|thank you|thx|ty|cheers|much appreciated)\b[\w\s!.,]{0,30}$/i, "You're welcome! Let me know if there is anything else I can help with."],
  [/^\s*(?:bye|goodbye|see you|see ya|good night)\b[\w\s!.,]{0,20}$/i, 'Goodbye! Have a great day.'],
  [/^\s*(?:ok(?:ay)?|cool|great|nice|got it|sounds good)[\s!.,]*$/i, 'Great! Is there anything else I can help with?'],
];
// A short question or request (a few words) gets a short answer: two sentences at most, about its own words.
const SHORT_PROMPT_WORDS = 4;
const SHORT_ANSWERS = [
  'In short, {a} is best understood through a small example. What would you like to know about it?',
  'Good question. {A} comes down to a few key ideas; tell me which part you need and I will go into detail.',
  'Happy to help with {a}. Could you say a little more about what you need?',
];

function freeForm(prompt: Prompt, rng: Rng, targetTokens: number, lengthSet = false): string {
  if (prompt.toolResult === undefined) {
    const smallTalk = SMALL_TALK.find(([pattern]) => pattern.test(prompt.input));
    if (smallTalk) return fitTokens(smallTalk[1], targetTokens);
    if (!lengthSet && words(prompt.input).length <= SHORT_PROMPT_WORDS) return fitTokens(shortAnswer(prompt.input, rng), targetTokens);
  }
  const topics = topKeywords(prompt.conversation, 6);
  const defaults = ['the problem', 'the approach', 'the goal'];
  const pool = topics.length >= 3 ? topics : [...topics, ...defaults.slice(0, 3 - topics.length)];
  const fill = (template: string): string => {
    const [a, b, c] = pickThree(pool, rng);
    return template.replace('{a}', a).replace('{b}', b).replace('{c}', c);
  };
  const parts: string[] = [];
  if (prompt.toolResult !== undefined) {
    const first = sentences(prompt.toolResult)[0];
    parts.push(first ? `According to the tool result, ${asSentence(first, 24).replace(/^\p{Lu}(?!\p{Lu})/u, (ch) => ch.toLowerCase())}` : 'The tool returned no details.');
  } else parts.push(fill(rng.pick(OPENERS)));
  let length = countTokens(parts.join(' '));
  // Templates are drawn without repeats until all are used, so long answers do not loop on one sentence.
  let deck: string[] = [];
  while (length < targetTokens) {
    if (deck.length === 0) deck = [...SENTENCES];
    const sentence = fill(deck.splice(rng.int(deck.length), 1)[0]!);
    parts.push(sentence);
    length += countTokens(` ${sentence}`);
  }
  return fitTokens(parts.join(' '), targetTokens);
}

function shortAnswer(input: string, rng: Rng): string {
  const topic = topKeywords(input, 1)[0];
  if (topic === undefined) return 'Could you tell me a bit more about what you need?';
  return rng.pick(SHORT_ANSWERS).replace('{a}', topic).replace('{A}', topic.charAt(0).toUpperCase() + topic.slice(1));
}

function pickThree(pool: readonly string[], rng: Rng): [string, string, string] {
  const a = rng.pick(pool);
  const rest = pool.filter((word) => word !== a);
  const b = rng.pick(rest);
  const c = rng.pick(rest.filter((word) => word !== b).concat(rest.length > 1 ? [] : [b]));
  return [a, b, c];
}

/** Cuts text to exactly `count` tokens, ending it with a full stop. */
function fitTokens(text: string, count: number): string {
  const pieces = tokenize(text);
  if (pieces.length <= count) return text;
  const kept = pieces.slice(0, count);
  if (count < 3) return kept.join('');
  const before = kept[count - 2]!;
  if (/[.!?]$/.test(before)) kept[count - 1] = '\n'; // the sentence already ended: close on a line break
  else {
    kept[count - 1] = '.';
    // A word, not a comma, must come before the full stop.
    if (!/\p{L}|\p{N}/u.test(before)) kept[count - 2] = ' too';
  }
  return kept.join('');
}
