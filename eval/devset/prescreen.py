"""Pre-screen corpus items for manual labelling: flags items whose text mentions any topic cue.

This is a reading aid, not a classifier: every flagged item (and a sample of the rest) is read
and judged by the topic definitions in NOTES.md. Usage:

    .venv/bin/python eval/devset/prescreen.py /work/shared/corpus/news/items.jsonl > /tmp/cands.txt
"""

from __future__ import annotations

import json
import re
import sys

CUES = {
    "ai-moratorium": r"\bpaus|moratori|\bhalt|open letter|future of life|six.month|6.month"
    r"|giant ai",
    "twitter-ai": r"twitter|\bmusk|x\.ai|\bxai\b|truthgpt|\bgrok|x corp|\belon",
    "china-llm": r"\bchin(?:a|ese)\b|baidu|alibaba|tencent|ernie|tongyi|qianwen|sensetime"
    r"|bytedance|huawei|iflytek|beijing|chatglm|zhipu|wenxin|hunyuan|pangu",
    "ai": r"\bai\b|artificial intelligence|gpt|llm|language model|chatbot|openai"
    r"|machine learning|neural|deepmind|anthropic|\bbard\b|llama|generative",
}


def main(path: str) -> None:
    """Print one line per item: matched cue groups, id and a short text."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            text = f"{item.get('title') or ''} {item.get('summary') or ''}"
            hits = [name for name, rx in CUES.items() if re.search(rx, text, re.IGNORECASE)]
            flag = ",".join(hits) if hits else "-"
            print(f"{flag}\t{item['id']}\t{text[:300]!r}")


if __name__ == "__main__":
    main(sys.argv[1])
