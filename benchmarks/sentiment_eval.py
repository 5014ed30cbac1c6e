"""Sentiment scorers on the labelled market-news headlines: accuracy and macro-F1.

    python benchmarks/sentiment_eval.py [benchmarks/data/headlines_labelled.csv]

Compares the built-in finance-lexicon scorer with VADER (vaderSentiment, MIT;
compound >= 0.05 bullish, <= -0.05 bearish, the thresholds its authors
recommend) and prints a markdown table plus the confusion matrices. The
headlines were written and labelled for this project, independently of the
scorer's lexicon.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

LABELS = ("bearish", "neutral", "bullish")
DEFAULT = Path(__file__).parent / "data" / "headlines_labelled.csv"


def load(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Mean over labels of F1 = 2 P R / (P + R) (0 where undefined)."""
    scores = []
    for label in LABELS:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(scores) / len(scores)


def accuracy(gold: list[str], pred: list[str]) -> float:
    return sum(g == p for g, p in zip(gold, pred)) / len(gold)


def vader_labels(texts: list[str]) -> list[str]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    out = []
    for text in texts:
        c = analyzer.polarity_scores(text)["compound"]
        out.append("bullish" if c >= 0.05 else "bearish" if c <= -0.05 else "neutral")
    return out


def builtin_labels(texts: list[str]) -> list[str]:
    from events.scoring import get_scorer

    scorer = get_scorer()
    return [scorer.score(t).label for t in texts]


def evaluate(path: Path = DEFAULT) -> dict[str, dict[str, float]]:
    rows = load(path)
    gold = [r["label"] for r in rows]
    texts = [r["headline"] for r in rows]
    out = {}
    for name, fn in (("finance-lexicon (built-in)", builtin_labels), ("VADER", vader_labels)):
        pred = fn(texts)
        out[name] = {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred),
                     "n": len(gold), "pred": pred}
    out["_gold"] = {"labels": gold}
    return out


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    res = evaluate(path)
    gold = res.pop("_gold")["labels"]
    counts = {label: gold.count(label) for label in LABELS}
    print(f"{len(gold)} headlines ({', '.join(f'{k} {v}' for k, v in counts.items())})\n")
    print("| scorer | accuracy | macro-F1 |\n| --- | --- | --- |")
    for name, r in res.items():
        print(f"| {name} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} |")
    for name, r in res.items():
        print(f"\nconfusion, {name} (rows gold, columns predicted: bearish neutral bullish)")
        for g in LABELS:
            print(f"  {g:8s}", *(f"{sum(x == g and p == q for x, p in zip(gold, r['pred'])):4d}"
                                for q in LABELS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
