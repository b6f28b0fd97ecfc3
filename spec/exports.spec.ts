import * as root from '../src';
import * as node from '../src/node';
import * as openai from '../src/openai';
import * as testing from '../src/testing';

// Adding or removing a public export is a deliberate act: it changes these lists.
describe('public surface', () => {
  it('rxllm', () => {
    expect(Object.keys(root).sort()).toMatchSnapshot();
  });
  it('rxllm/node', () => {
    expect(Object.keys(node).sort()).toMatchSnapshot();
  });
  it('rxllm/openai', () => {
    expect(Object.keys(openai).sort()).toEqual(['openaiTransport']);
  });
  it('rxllm/testing', () => {
    expect(Object.keys(testing).sort()).toMatchSnapshot();
  });
});
