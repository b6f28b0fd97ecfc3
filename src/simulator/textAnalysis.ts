// Small, deterministic text heuristics the simulator builds its answers from.
// They aim at answers that read plausibly in a demo, not at linguistic accuracy.

const STOPWORDS = new Set(
  `a about above after again against all also am an and any are as at be because been before being below between both but by
  can could did do does doing down during each else even ever every few for from further get gets got had has have having he her
  here hers him his how however i if in into is it its itself just let like made make many may me might more most much must my
  no nor not now of off on once only or other our ours out over own per please quite rather really said same say says see she
  should since so some such than that the their theirs them then there these they thing things this those though through to too
  under until up upon us use used using very via was we well were what when where whether which while who whom whose why will
  with within without would yet you your yours yourself one two three four five six seven eight nine ten text following below
  above given write give return answer respond reply extract list identify find summarize summarise summary sentence sentences
  keyword keywords words word classify classification sentiment label labels tell provide based short brief explain
  describe show help helps need needs want wants work works know think make makes take takes get way ways lot lots`.split(/\s+/),
);

const NUMBER_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, single: 1, a: 1, an: 1,
};

/** Reads "3", "three" or "a" as a number; undefined otherwise. */
export function readCount(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const lower = word.toLowerCase();
  if (/^\d+$/.test(lower)) return Number(lower);
  return NUMBER_WORDS[lower];
}

/** The words of a text (letters, digits, inner apostrophes and hyphens), in order. */
export function words(text: string): string[] {
  return text.match(/\p{L}[\p{L}\p{N}'’-]*|\p{N}+/gu) ?? [];
}

/** Words that carry meaning: not stopwords, at least 3 letters. */
export function contentWords(text: string): string[] {
  return words(text).filter((word) => word.length >= 3 && !STOPWORDS.has(word.toLowerCase()) && /\p{L}/u.test(word));
}

/** The sentences of a text, trimmed, in order. */
export function sentences(text: string): string[] {
  return (text.match(/[^.!?\n]+(?:[.!?]+|$)/gm) ?? []).map((s) => s.trim()).filter((s) => words(s).length > 0);
}

/**
 * The `count` most frequent content words, most frequent first (ties: the longer,
 * more specific word first, then the first seen), each in the casing of its first
 * use, lower-cased unless it looks like a name or an acronym.
 */
export function topKeywords(text: string, count: number): string[] {
  const stats = new Map<string, { word: string; count: number; first: number; capitalised: boolean }>();
  const all = contentWords(text);
  all.forEach((word, position) => {
    const key = word.toLowerCase();
    const entry = stats.get(key);
    const capitalised = /^\p{Lu}/u.test(word);
    if (entry) {
      entry.count++;
      entry.capitalised &&= capitalised;
    } else stats.set(key, { word, count: 1, first: position, capitalised });
  });
  return [...stats.values()]
    .sort((a, b) => b.count - a.count || Math.min(b.word.length, 10) - Math.min(a.word.length, 10) || a.first - b.first)
    .slice(0, count)
    .map((entry) => (entry.capitalised || /^\p{Lu}+$/u.test(entry.word) ? entry.word : entry.word.toLowerCase()));
}

/**
 * Exactly `count` keywords: the input's top content words, then its two-word phrases, then
 * general words (a short input has fewer words than were asked for).
 */
export function keywordsOf(input: string, count: number): string[] {
  // Ranking favours long words, and long words are often adverbs or verbs ("easily", "the battery lasts"):
  // a small model names things, so those come last.
  const ranked = topKeywords(input, count * 3);
  const verbs = new Set<string>();
  const tokens = words(input).map((word) => word.toLowerCase());
  tokens.forEach((word, index) => {
    // "the battery (easily) lasts": an -s word after a determiner and a noun is a verb.
    const back = tokens[index - 1] !== undefined && /ly$/.test(tokens[index - 1]!) ? 1 : 0;
    if (index >= 2 + back && DETERMINER.test(tokens[index - 2 - back]!) && /[^s]s$/.test(word)) verbs.add(word);
  });
  const unlikely = (word: string) => (/ly$/i.test(word) && !NOT_ADVERBS.has(word.toLowerCase())) || verbs.has(word.toLowerCase());
  const found = [...ranked.filter((word) => !unlikely(word)), ...ranked.filter(unlikely)].slice(0, count);
  const seen = new Set(found.map((word) => word.toLowerCase()));
  const content = contentWords(input);
  const phrases = content.slice(1).map((word, index) => `${content[index]!} ${word}`.toLowerCase());
  for (const extra of [...phrases, ...GENERAL_KEYWORDS]) {
    if (found.length >= count) break;
    if (!seen.has(extra)) {
      seen.add(extra);
      found.push(extra);
    }
  }
  return found;
}

const DETERMINER = /^(?:the|a|an|my|your|our|their|this|that|its)$/;
const GENERAL_KEYWORDS = ['overview', 'context', 'details', 'example', 'summary', 'result', 'topic', 'notes', 'outline', 'insight'];

/**
 * An extractive summary: the `count` sentences whose words are most typical of
 * the text, in their original order, each cut to at most `maxWords` words.
 */
export function summarySentences(text: string, count: number, maxWords = 28): string[] {
  const all = sentences(text);
  if (all.length === 0) return [];
  const frequency = new Map<string, number>();
  for (const word of contentWords(text)) frequency.set(word.toLowerCase(), (frequency.get(word.toLowerCase()) ?? 0) + 1);
  const scored = all.map((sentence, index) => {
    const content = contentWords(sentence);
    const score = content.reduce((sum, word) => sum + (frequency.get(word.toLowerCase()) ?? 0), 0) / Math.sqrt(content.length + 1);
    return { sentence, index, score };
  });
  const chosen = [...scored].sort((a, b) => b.score - a.score || a.index - b.index).slice(0, count);
  return chosen.sort((a, b) => a.index - b.index).map(({ sentence }) => asSentence(sentence, maxWords));
}

/** A fragment made into one sentence: capitalised, at most `maxWords` words, ending with a full stop. */
export function asSentence(fragment: string, maxWords: number): string {
  let parts = fragment.trim().split(/\s+/);
  const cut = parts.length > maxWords;
  if (cut) parts = parts.slice(0, maxWords);
  let sentence = parts.join(' ').replace(/[\s,;:–—-]+$/u, '');
  if (cut || !/[.!?]$/.test(sentence)) sentence = `${sentence.replace(/[.!?]+$/, '')}.`;
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

const POSITIVE = new Set(
  `good great excellent love loved loves lovely amazing awesome happy fantastic wonderful best better perfect nice pleased
  recommend recommended enjoy enjoyed helpful friendly easy delighted impressed superb brilliant glad fast quick smooth
  beautiful satisfied thanks thank outstanding reliable solid fun favourite favorite works worked`.split(/\s+/),
);
const NEGATIVE = new Set(
  `bad terrible awful hate hated poor slow worst worse broken disappointed disappointing angry refund horrible useless late
  rude problem problems issue issues fail failed fails failure crash crashed crashes bug bugs buggy wrong annoying frustrated
  frustrating unhappy sad waste expensive difficult hard confusing cancel cancelled cancelling canceling missing damaged dirty
  error errors`.split(/\s+/),
);
const NEGATIONS = new Set(['not', 'no', 'never', "n't", 'hardly', 'without', "don't", "didn't", "doesn't", "isn't", "wasn't", "won't", "can't"]);

/** True when one of the two words before `tokens[index]` negates it ("not good", "isn't really happy"). Tokens are lower case. */
export function isNegated(tokens: readonly string[], index: number): boolean {
  return [tokens[index - 1], tokens[index - 2]].some((before) => before !== undefined && (NEGATIONS.has(before) || /n['’]t$/.test(before)));
}

/** A lexicon score: above 0 leans positive, below 0 negative; `mixed` when both kinds occur. */
export function sentimentScore(text: string): { score: number; mixed: boolean } {
  const tokens = words(text).map((word) => word.toLowerCase());
  let positive = 0;
  let negative = 0;
  tokens.forEach((word, index) => {
    const negated = isNegated(tokens, index);
    const polarity = POSITIVE.has(word) ? 1 : NEGATIVE.has(word) ? -1 : 0;
    if (polarity === 0) return;
    if (polarity * (negated ? -1 : 1) > 0) positive++;
    else negative++;
  });
  return { score: positive - negative, mixed: positive > 0 && negative > 0 };
}

/**
 * Picks the label a sentiment classifier would give, from the labels offered.
 * Labels that say positive/negative/neutral/mixed (in any wording) are matched
 * to the lexicon score; anything else is chosen by `fallbackIndex`.
 */
export function chooseSentimentLabel(text: string, labels: readonly string[], fallbackIndex: number): string {
  const { score, mixed } = sentimentScore(text);
  const find = (pattern: RegExp) => labels.find((label) => pattern.test(label));
  const positive = find(/^(pos|good|happy|favou?rable|satisf|praise|like)/i);
  const negative = find(/^(neg|bad|unhappy|sad|angry|unfavou?rable|dissatisf|complain|dislike)/i);
  const neutral = find(/^(neu|none|other|unknown|indifferent)/i);
  const mixedLabel = find(/^mix/i);
  if (mixed && mixedLabel) return mixedLabel;
  if (score > 0 && positive) return positive;
  if (score < 0 && negative) return negative;
  if (score === 0 && neutral) return neutral;
  if (score === 0 && positive && negative && !neutral) return positive;
  return labels[fallbackIndex % labels.length]!;
}

const SENTIMENT_WORDS = /^(positive|negative|neutral|mixed)$/i;
const LIST = /["'“‘`]?[\p{L}][\p{L}\p{N}_-]*["'”’`]?(?:\s*(?:,\s*(?:or\s+|and\s+)?|\/|\||\s+or\s+)\s*["'“‘`]?[\p{L}][\p{L}\p{N}_-]*["'”’`]?)+/gu;

/**
 * The labels a classification prompt offers ("as positive, negative or neutral",
 * "one of: bug / feature / question"): the list that names sentiment words, else
 * the last list in the instructions, else positive / negative / neutral.
 */
export function offeredLabels(instructions: string): string[] {
  const lists = [...instructions.matchAll(LIST)].map((match) =>
    match[0]
      .split(/\s*(?:,\s*(?:or\s+|and\s+)?|\/|\||\s+or\s+)\s*/)
      .map((label) => label.replace(/^["'“‘`]|["'”’`]$/g, ''))
      .filter((label) => label.length > 0 && label.length <= 30),
  );
  const candidates = lists.filter((list) => list.length >= 2 && list.length <= 10);
  const sentimentList = candidates.find((list) => list.some((label) => SENTIMENT_WORDS.test(label)));
  const chosen = sentimentList ?? candidates.at(-1);
  return chosen ?? ['positive', 'negative', 'neutral'];
}

/** Words that look like names (capitalised, not at the start of a sentence), in order, without repeats. */
export function properNouns(text: string): string[] {
  const found: string[] = [];
  for (const sentence of sentences(text)) {
    words(sentence)
      .slice(1)
      .forEach((word) => {
        if (/^\p{Lu}\p{Ll}+$/u.test(word) && !STOPWORDS.has(word.toLowerCase()) && !found.includes(word)) found.push(word);
      });
  }
  return found;
}

// Adverbs a summary can do without; "-ly" words that are not adverbs are kept.
const NOT_ADVERBS = new Set(['only', 'early', 'family', 'reply', 'supply', 'apply', 'july', 'italy', 'daily', 'weekly', 'monthly', 'yearly', 'friendly', 'lovely', 'ugly', 'likely', 'holy', 'belly', 'jelly', 'rally', 'fly', 'ally', 'assembly', 'anomaly']);
const WORDY: [RegExp, string][] = [
  [/\bin order to\b/gi, 'to'],
  [/\bis able to\b/gi, 'can'],
  [/\bare able to\b/gi, 'can'],
  [/\bdue to the fact that\b/gi, 'because'],
  [/\ba lot of\b/gi, 'much'],
  [/\bat this point in time\b/gi, 'now'],
  [/\bfor (?:an?|one|two|three|four|five|several|a few|\d+) (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b/gi, ''],
];
// First person becomes third: a summary reports what the writer said (named at first mention, then "they").
const FIRST_PERSON = /\b(?:I am|I'm|I was|I have|I've|I|me|my|we are|we're|we|our|us)\b/gi;
const THIRD_PERSON: Record<string, [string, string]> = {
  'i am': ['the writer is', 'they are'],
  "i'm": ['the writer is', 'they are'],
  'i was': ['the writer was', 'they were'],
  'i have': ['the writer has', 'they have'],
  "i've": ['the writer has', 'they have'],
  i: ['the writer', 'they'],
  me: ['the writer', 'them'],
  my: ['their', 'their'],
  'we are': ['they are', 'they are'],
  "we're": ['they are', 'they are'],
  we: ['they', 'they'],
  our: ['their', 'their'],
  us: ['them', 'them'],
};

/**
 * One sentence said with fewer words, as a summary restates it: no parentheses, "-ly"
 * adverbs, durations or relative clauses; a colon's list becomes "with …"; a contrast
 * (", though …", ", but …") keeps its first part; first person becomes third. Without a
 * trailing full stop.
 */
export function compressSentence(sentence: string): string {
  let out = sentence.trim().replace(/[.!?]+$/, '');
  out = out.replace(/\s*\([^)]*\)/g, '').replace(/\s+[–—]\s+[^–—]*\s+[–—]\s+/g, ' ');
  for (const [pattern, replacement] of WORDY) out = out.replace(pattern, replacement);
  out = out.replace(/\b(\p{L}+ly)\b\s*/gu, (whole, word: string) => (word.length > 4 && !NOT_ADVERBS.has(word.toLowerCase()) ? '' : whole));
  // A relative clause up to the next comma or the end ("talks that were practical and easy to follow").
  out = out.replace(/\s+(?:that|which|who)\s+(?:were|was|are|is|had|has|have)\b[^,;:]*/gi, '');
  out = out.replace(/:\s+/, ', with ');
  out = out.replace(/,?\s+(though|although|but|while|whereas)\s+([^,;]+?)\s+(?:and|or)\s+[^,;]+$/i, (_, _word: string, first: string) => `, but ${first}`);
  let named = false;
  out = out.replace(FIRST_PERSON, (match) => {
    const lower = match.toLowerCase();
    // "I" must be the capital pronoun; "us" and "me" lower case only mid-sentence is fine either way.
    if (lower === 'i' && match !== 'I') return match;
    if (match === 'US') return match; // the country
    const [first, later] = THIRD_PERSON[lower]!;
    const out = named ? later : first;
    if (first.startsWith('the writer')) named = true;
    return out;
  });
  out = out.replace(/\s{2,}/g, ' ').replace(/\s+,/g, ',').replace(/[\s,;:]+$/, '').trim();
  return out.charAt(0).toUpperCase() + out.slice(1);
}

/**
 * A summary in `count` sentences: the input's most typical sentences, each compressed
 * ({@link compressSentence}); for one sentence, the top two joined when they fit. Always
 * fewer words than the input and never the input itself (a one-sentence input that has
 * nothing to compress becomes a status line: "Build: green."). Empty for an input without words.
 */
export function summarize(text: string, count: number, maxWords = 28): string {
  const all = sentences(text);
  const inputWords = words(text).length;
  if (all.length === 0) return '';
  const chosen = summarySentences(text, Math.max(count, count === 1 && all.length > 1 ? 2 : count), Infinity).map(compressSentence);
  const parts: string[] = [];
  if (count === 1) {
    parts.push(chosen[0]!);
    const second = chosen[1];
    if (second && words(parts[0]!).length + words(second).length <= Math.min(maxWords, inputWords - 1)) {
      // A semicolon, not ", and": the joined sentence must stay shorter than the input.
      parts[0] = `${parts[0]}; ${/^\p{Lu}\p{Ll}/u.test(second) && !/^I\b/.test(second) ? second.charAt(0).toLowerCase() + second.slice(1) : second}`;
    }
  } else parts.push(...chosen);
  let summary = parts.map((part) => asSentence(part, count === 1 ? maxWords : Math.max(3, Math.floor(maxWords / count) + 8))).join(' ');
  if (words(summary).length >= inputWords || normalise(summary) === normalise(text)) {
    // Nothing left to leave out: a telegraphic restatement, as a headline would put it.
    let terse = summary.replace(/\b(?:the|a|an)\s+/gi, '');
    // Still a piece of the input ("Build is green"): a status line, as a headline would put it ("Build: green").
    if (normalise(text).includes(normalise(terse))) terse = terse.replace(/\s+(?:is|are|was|were)\s+/i, ': ');
    summary = words(terse).length < words(summary).length ? terse : words(summary).slice(0, Math.max(1, inputWords - 1)).join(' ');
    summary = asSentence(summary, maxWords);
  }
  return summary;
}

function normalise(text: string): string {
  return words(text).join(' ').toLowerCase();
}
