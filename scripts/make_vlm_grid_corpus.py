#!/usr/bin/env python3
"""Writes tests/guide/vlm_grid_corpus.inc: VLM replies and the grid the original's parser (vlm_guidance.py,
get_density_guidance; fresnel_spec.md §8) makes of each, computed here with Python's `re` exactly as the original's
tiers do. The C++ parser must give the same result for every reply (tests/guide/test_grid_parsing.cpp).

Run from the repository root: python3 scripts/make_vlm_grid_corpus.py
"""
import json
import re

R4 = "0.3 0.5 0.8 0.4\n0.4 1.0 1.0 0.5\n0.3 0.8 0.9 0.4\n0.2 0.3 0.4 0.2"
R8 = "\n".join(" ".join("%.1f" % (((i * 8 + j) % 11) / 10) for j in range(8)) for i in range(8))
R16 = "\n".join(" ".join("%.2f" % (((i * 16 + j) % 21) / 20) for j in range(16)) for i in range(16))

CASES = [
    ("plain 4x4 as the prompt's example", 4, R4),
    ("code fence", 4, "```\n" + R4 + "\n```"),
    ("code fence with a language", 4, "```text\n" + R4 + "\n```"),
    ("prose before and after", 4,
     "Here is the importance grid for the image:\n\n" + R4 + "\n\nThe centre holds the face, so it matters most."),
    ("markdown table with header and separator", 4,
     "| C1 | C2 | C3 | C4 |\n|----|----|----|----|\n| 0.2 | 0.5 | 0.5 | 0.2 |\n| 0.4 | 1.0 | 0.9 | 0.4 |\n"
     "| 0.3 | 0.8 | 0.8 | 0.3 |\n| 0.1 | 0.2 | 0.2 | 0.1 |"),
    ("comma separated", 4, "0.1, 0.2, 0.3, 0.4\n0.5, 0.6, 0.7, 0.8\n0.9, 1.0, 0.9, 0.8\n0.7, 0.6, 0.5, 0.4"),
    ("commas without spaces and bare 0/1", 4, "0,0.5,1,0.5\n1,1,1,1\n0,0,0,0\n0.5,0.5,0.5,0.5"),
    ("integers 1 and 0 only", 4, "1 0 0 1\n0 1 1 0\n0 1 1 0\n1 0 0 1"),
    ("leading-dot decimals (.85)", 4, ".85 .5 .25 .1\n.1 .2 .3 .4\n.9 .8 .7 .6\n.5 .5 .5 .5"),
    ("7 rows for G=8 is no grid", 8, "\n".join(R8.split("\n")[:7])),
    ("full 8x8", 8, R8),
    ("9 rows for G=8: the first 8", 8, R8 + "\n0.9 0.9 0.9 0.9 0.9 0.9 0.9 0.9"),
    ("full 16x16 (1.00 cells split in two, as in the original)", 16, R16),
    ("empty reply", 4, ""),
    ("whitespace only", 4, "  \n\n  "),
    ("refusal without numbers", 4, "I'm sorry, I cannot analyze this image."),
    ("JSON array of arrays, one row per line", 4,
     "```json\n[\n  [0.1, 0.2, 0.3, 0.4],\n  [0.5, 0.6, 0.7, 0.8],\n  [0.9, 1.0, 0.9, 0.8],\n  [0.7, 0.6, 0.5, 0.4]\n]\n```"),
    ("JSON array on one line is one row: no grid", 4,
     "[[0.1,0.2,0.3,0.4],[0.5,0.6,0.7,0.8],[0.9,1.0,0.9,0.8],[0.7,0.6,0.5,0.4]]"),
    ("row labels are read as numbers (the original's tiers)", 4,
     "Row 1: 0.2 0.4 0.6 0.8\nRow 2: 0.2 0.4 0.6 0.8\nRow 3: 0.2 0.4 0.6 0.8\nRow 4: 0.2 0.4 0.6 0.8"),
    ("'*' bullet lines are skipped", 4, "* 0.9 0.9 0.9 0.9\n" + R4),
    ("'-' bullet lines are read", 4, "- 0.1 0.2 0.3 0.4\n- 0.5 0.6 0.7 0.8\n- 0.9 1.0 0.9 0.8\n- 0.7 0.6 0.5 0.4"),
    ("'#' heading skipped", 4, "# Importance grid (4x4)\n" + R4),
    ("more than G numbers per line: the first G", 4,
     "0.1 0.2 0.3 0.4 0.5 0.6\n0.1 0.2 0.3 0.4 0.5\n0.1 0.2 0.3 0.4 0.9\n0.1 0.2 0.3 0.4 0.0"),
    ("tab separated", 4, R4.replace(" ", "\t")),
    ("CRLF line ends", 4, R4.replace("\n", "\r\n")),
    ("1.00 splits into 1 and .00 (the original's first tier)", 4,
     "1.00 0.75 0.50 0.25\n1.00 0.75 0.50 0.25\n1.00 0.75 0.50 0.25\n1.00 0.75 0.50 0.25"),
    ("a short row makes too few rows", 4, "0.1 0.2 0.3 0.4\n0.1 0.2 0.3\n0.1 0.2 0.3 0.4\n0.1 0.2 0.3 0.4"),
    ("a short row skipped, a later row completes the grid", 4,
     "0.1 0.2 0.3 0.4\n0.1 0.2 0.3\n0.1 0.2 0.3 0.4\n0.1 0.2 0.3 0.4\n0.5 0.5 0.5 0.5"),
    ("semicolons", 4, "0.1;0.2;0.3;0.4\n0.2;0.3;0.4;0.5\n0.3;0.4;0.5;0.6\n0.4;0.5;0.6;0.7"),
    ("negative signs are dropped", 4, "-0.2 0.5 0.5 0.5\n0.5 0.5 0.5 0.5\n0.5 0.5 0.5 0.5\n0.5 0.5 0.5 0.5"),
    ("percent-like integers are not numbers", 4, "85 50 20 10\n85 50 20 10\n85 50 20 10\n85 50 20 10"),
    ("reasoning preamble mentioning 4x4", 4,
     "<think>The user wants a 4x4 grid. The face is in the centre.</think>\n" + R4),
    ("values above 1 through the third tier are clamped", 4,
     "3. 2. 0.5 0.5\n0.5 0.5 0.5 0.5\n0.5 0.5 0.5 0.5\n0.5 0.5 0.5 0.5"),
    ("markdown table with a row-label column", 4,
     "| | A | B | C | D |\n|---|---|---|---|---|\n| 1 | 0.2 | 0.3 | 0.3 | 0.2 |\n| 2 | 0.3 | 0.9 | 0.9 | 0.3 |\n"
     "| 3 | 0.3 | 0.8 | 0.8 | 0.3 |\n| 4 | 0.1 | 0.2 | 0.2 | 0.1 |"),
    ("indented rows with trailing prose", 4,
     "    0.2 0.2 0.2 0.2\n    0.2 0.9 0.9 0.2\n    0.2 0.9 0.9 0.2\n    0.2 0.2 0.2 0.2\n"
     "Eyes and mouth get the highest scores."),
    ("4x4 reply when 8x8 was asked: no grid", 8, R4),
    ("unclosed code fence", 4, "```\n" + R4),
    ("2x2 blocks written as pairs per line: too few per line", 4, "0.1 0.2\n0.3 0.4\n0.5 0.6\n0.7 0.8"),
]


def original_parse(response, g):
    """The original's tiers, line for line in behaviour."""
    response = re.sub(r'```[\w]*\n?', '', response).strip()
    grid = []
    for line in response.split("\n"):
        line = line.strip()
        if not line or line.startswith('#') or line.startswith('*'):
            continue
        numbers = re.findall(r'\b0?\.\d+\b|\b1\.0\b|\b[01]\b', line)
        if len(numbers) < g:
            numbers = re.findall(r'[\d]+\.[\d]+|[01](?:\s|,|$)', line)
        if len(numbers) < g:
            numbers = [n for n in re.findall(r'[\d.]+', line) if '.' in n or (len(n) == 1 and n in '01')]
        if len(numbers) >= g:
            try:
                grid.append([min(1.0, max(0.0, float(n))) for n in numbers[:g]])
            except ValueError:
                continue
        if len(grid) >= g:
            break
    return grid[:g] if len(grid) >= g else None


def main():
    out = ["// Generated by scripts/make_vlm_grid_corpus.py — do not edit. {name, G, reply, has_grid, values}."]
    for name, g, text in CASES:
        grid = original_parse(text, g)
        values = ", ".join(repr(float(v)) + "f" for row in grid for v in row) if grid else ""
        assert text.isascii()
        # JSON string escapes (\n, \r, \t, \", \\) are valid C++ escapes for ASCII text.
        out.append('{%s, %d, %s, %s, {%s}},' % (json.dumps(name), g, json.dumps(text), "true" if grid else "false", values))
    with open("tests/guide/vlm_grid_corpus.inc", "w") as f:
        f.write("\n".join(out) + "\n")
    print(len(CASES), "replies")


if __name__ == "__main__":
    main()
