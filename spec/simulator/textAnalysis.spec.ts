import { asSentence, chooseSentimentLabel, compressSentence, keywordsOf, offeredLabels, properNouns, readCount, sentimentScore, summarize, summarySentences, topKeywords, words } from '../../src/simulator/textAnalysis';

describe('textAnalysis', () => {
  it.each([
    ['Classify the sentiment as positive, negative, or neutral.', ['positive', 'negative', 'neutral']],
    ['Answer with one word: "Happy" | "Unhappy"', ['Happy', 'Unhappy']],
    ['Label it bug/feature/question please', ['bug', 'feature', 'question']],
    ['Tell me how it feels', ['positive', 'negative', 'neutral']],
  ])('offeredLabels(%j)', (instructions, labels) => {
    expect(offeredLabels(instructions)).toEqual(labels);
  });

  it('scores sentiment with negation, and flags mixed texts', () => {
    expect(sentimentScore('great and fast')).toEqual({ score: 2, mixed: false });
    expect(sentimentScore('not great')).toEqual({ score: -1, mixed: false });
    expect(sentimentScore('great food, terrible service')).toEqual({ score: 0, mixed: true });
    // A complaint in support-ticket words (the demo's second sample text) leans negative.
    expect(sentimentScore('closed my ticket without fixing the billing error. I am cancelling my subscription.').score).toBe(-2);
    expect(chooseSentimentLabel('great food, terrible service', ['positive', 'negative', 'mixed'], 0)).toBe('mixed');
    expect(chooseSentimentLabel('it is a chair', ['yes', 'no'], 1)).toBe('no');
  });

  it('ranks keywords by frequency, then length, then first use, keeping names capitalised', () => {
    expect(topKeywords('Lisbon has trams. Trams are old. Lisbon loves trams and pastries.', 3)).toEqual(['trams', 'Lisbon', 'pastries']);
  });

  it('builds summaries from whole sentences of the text', () => {
    const text = 'Cats sleep a lot. Cats and dogs play. Dogs bark at cats sometimes.';
    expect(summarySentences(text, 1)).toEqual(['Dogs bark at cats sometimes.']); // the most words typical of the text
    expect(summarySentences(text, 2)).toEqual(['Cats and dogs play.', 'Dogs bark at cats sometimes.']); // in the text's order
    expect(asSentence('one two three four', 2)).toBe('One two.');
  });

  it('reads counts and finds names', () => {
    expect([readCount('3'), readCount('five'), readCount('a'), readCount('many')]).toEqual([3, 5, 1, undefined]);
    expect(properNouns('We flew from Oslo to Rome. Then Rome again.')).toEqual(['Oslo', 'Rome']);
  });
});

describe('compressSentence, summarize and keywordsOf', () => {
  const LAPTOP = 'The new laptop is fast and the battery easily lasts a full working day, though the speakers sound thin and the fan gets loud under load.';

  it('compressSentence drops adverbs, durations and relative clauses, keeps the first part of a contrast, and reports the writer in the third person', () => {
    expect(compressSentence(LAPTOP)).toBe('The new laptop is fast and the battery lasts a full working day, but the speakers sound thin');
    expect(compressSentence('Support kept me on hold for an hour and I am cancelling my plan.')).toBe('Support kept the writer on hold and they are cancelling their plan');
    expect(compressSentence('The talk was great: clear slides that were easy to follow.')).toBe('The talk was great, with clear slides');
  });

  it('summarize is shorter than its input and never the input, down to a four-word sentence', () => {
    for (const text of [LAPTOP, 'The build is green.', 'Tests pass. The release is ready. Ship it today.']) {
      const summary = summarize(text, 1);
      expect(words(summary).length).toBeLessThan(words(text).length);
      expect(summary).not.toBe(text);
    }
    expect(summarize('The build is green.', 1)).toBe('Build: green.');
    expect(summarize('', 1)).toBe('');
  });

  it('keywordsOf gives exactly the number asked, things before adverbs and verbs', () => {
    expect(keywordsOf(LAPTOP, 3)).toEqual(['speakers', 'battery', 'working']);
    expect(keywordsOf(LAPTOP, 30)).toHaveLength(30);
    expect(keywordsOf('I like cats and dogs.', 4)).toEqual(['cats', 'dogs', 'cats dogs', 'overview']);
  });
});

