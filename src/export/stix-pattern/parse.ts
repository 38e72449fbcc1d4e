/**
 * STIX 2.1 patterns, parsed by the OASIS grammar itself (STIXPattern.g4 beside this file; the
 * parser in generated/ is what `antlr-ng` makes of it, see README.md) so that export and import
 * agree with every other STIX tool on what a pattern is. Syntax errors are values with the
 * column; the comparisons `path = 'literal'` are handed out for import.
 */
import {
  CharStream,
  CommonTokenStream,
  BaseErrorListener,
  ParserRuleContext,
  type ParseTree,
} from 'antlr4ng';
import type { ATNSimulator, RecognitionException, Recognizer, Token } from 'antlr4ng';
import { STIXPatternLexer } from './generated/STIXPatternLexer.js';
import {
  ComparisonExpressionContext,
  ObservationExpressionAndContext,
  ObservationExpressionRepeatedContext,
  ObservationExpressionsContext,
  ObservationExpressionStartStopContext,
  ObservationExpressionWithinContext,
  PropTestContext,
  PropTestParenContext,
  ObservationExpressionSimpleContext,
  PropTestEqualContext,
  STIXPatternParser,
} from './generated/STIXPatternParser.js';

/** Longer patterns are refused before the parser sees them: ANTLR's prediction can take time
 * superlinear in the input, and no indicator of ours needs more. */
export const MAX_PATTERN_CHARS = 4096;

/** Deeper nesting of ( and [ is refused before parsing: ANTLR's parser recurses once a level (the
 * JS stack overflowed at 2,000 levels in a test), and no real pattern nests more than a few. */
export const MAX_PATTERN_DEPTH = 64;

/** The deepest nesting of brackets outside string literals (a quote inside one is escaped). */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === "'") inString = false;
    } else if (c === "'") inString = true;
    else if (c === '(' || c === '[') max = Math.max(max, ++depth);
    else if (c === ')' || c === ']') depth--;
  }
  return max;
}

export interface PatternComparison {
  /** The object path as written, e.g. `network-traffic:dst_ref.value`. */
  path: string;
  /** `=` or `!=`, with `NOT` in front when negated. */
  op: string;
  /** The literal: a string's text unquoted, anything else as written. */
  value: string;
  /** Which observation expression (`[...]`) of the pattern it sits in, from 0. */
  observation: number;
}

export type PatternResult =
  | {
      ok: true;
      comparisons: PatternComparison[];
      observations: number;
      /**
       * true when the pattern is a set of alternatives (observations joined by OR only, no
       * qualifiers), each a conjunction of equalities (AND only, no NOT): each observation then
       * stands alone as "this endpoint" or "this name", which is what an import can use.
       */
      plain: boolean;
    }
  | { ok: false; error: string };

class Collect extends BaseErrorListener {
  errors: string[] = [];
  override syntaxError<S extends Token, T extends ATNSimulator>(
    _r: Recognizer<T>,
    _s: S | null,
    line: number,
    column: number,
    msg: string,
    _e: RecognitionException | null,
  ): void {
    if (this.errors.length < 5) this.errors.push(`line ${line} column ${column}: ${msg}`);
  }
}

function unquote(s: string): string {
  if (s.length >= 2 && s.startsWith("'") && s.endsWith("'"))
    return s.slice(1, -1).replace(/\\(['\\])/g, '$1');
  return s;
}

export function parseStixPattern(text: string): PatternResult {
  if (text.length > MAX_PATTERN_CHARS)
    return { ok: false, error: `pattern of ${text.length} characters, more than ${MAX_PATTERN_CHARS}` };
  const depth = nestingDepth(text);
  if (depth > MAX_PATTERN_DEPTH)
    return { ok: false, error: `brackets nested ${depth} deep, more than ${MAX_PATTERN_DEPTH}` };
  const errs = new Collect();
  const lexer = new STIXPatternLexer(CharStream.fromString(text));
  lexer.removeErrorListeners();
  lexer.addErrorListener(errs);
  const parser = new STIXPatternParser(new CommonTokenStream(lexer));
  parser.removeErrorListeners();
  parser.addErrorListener(errs);
  let tree: ParseTree;
  try {
    tree = parser.pattern();
  } catch (e) {
    // The depth bound should make this unreachable; a parser bug must not end the import.
    return { ok: false, error: `parser failed: ${(e as Error).message}` };
  }
  if (errs.errors.length) return { ok: false, error: errs.errors.join('; ') };
  const comparisons: PatternComparison[] = [];
  let observations = 0;
  let plain = true;
  // Iterative walk: a hostile pattern's nesting depth must not reach the JS stack's.
  const stack: { node: ParseTree; obs: number }[] = [{ node: tree, obs: -1 }];
  while (stack.length) {
    const { node, obs } = stack.pop()!;
    let here = obs;
    if (node instanceof ObservationExpressionSimpleContext) here = observations++;
    if (
      (node instanceof ObservationExpressionsContext && node.FOLLOWEDBY()) ||
      (node instanceof ObservationExpressionAndContext && node.AND()) ||
      (node instanceof ComparisonExpressionContext && node.OR()) ||
      node instanceof ObservationExpressionStartStopContext ||
      node instanceof ObservationExpressionWithinContext ||
      node instanceof ObservationExpressionRepeatedContext ||
      (node instanceof PropTestContext &&
        !(node instanceof PropTestEqualContext) &&
        !(node instanceof PropTestParenContext))
    )
      plain = false;
    if (node instanceof PropTestEqualContext) {
      if (node.NOT() || !node.EQ()) plain = false;
      comparisons.push({
        path: node.objectPath().getText(),
        op: `${node.NOT() ? 'NOT ' : ''}${node.EQ() ? '=' : '!='}`,
        value: unquote(node.primitiveLiteral().getText()),
        observation: here,
      });
      continue;
    }
    if (node instanceof ParserRuleContext)
      for (let i = node.getChildCount() - 1; i >= 0; i--) stack.push({ node: node.getChild(i)!, obs: here });
  }
  return { ok: true, comparisons, observations, plain };
}

/** A STIX string literal for a value (quote and backslash escaped, as the grammar's StringLiteral). */
export function stixString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
