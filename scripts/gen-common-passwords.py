#!/usr/bin/env python3
"""Writes crates/domain/data/common-passwords.txt: passwords of 12 characters or more that people
pick often — words and keyboard walks with the usual digits and symbols appended. The policy refuses
these exactly (lower-cased). Re-run after editing the word lists below; the output is committed."""
import itertools, pathlib

words = """password passw0rd p@ssword p@ssw0rd letmein welcome admin administrator root qwerty
qwertyuiop asdfghjkl zxcvbnm 1q2w3e4r 1qaz2wsx qazwsx iloveyou sunshine princess football baseball
dragon monkey master shadow superman batman trustno1 whatever starwars pokemon naruto doraemon
changeme secret default login access hello computer internet freedom michael jennifer
tokyo osaka japan nippon sakura himitsu kanrisha anshin callcenter contactcenter operator
supervisor security mamori customer support service company summer winter spring autumn
abc abcd abcdef abcdefgh""".split()
suffixes = ["", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "2024", "2025",
            "2026", "2027", "!", "1!", "123!", "1234!", "@123", "#1", "01", "00", "0000", "99", "777"]
walks = ["123456789012", "1234567890123", "12345678901234", "123456789abc", "qwertyuiop12",
         "qwertyuiop123", "qwertyuiopasdf", "asdfghjkl123", "1q2w3e4r5t6y", "1qaz2wsx3edc",
         "zaq12wsxcde3", "aaaaaaaaaaaa", "111111111111", "000000000000", "abcdefghijkl",
         "abc123abc123", "123123123123", "987654321000", "qazwsxedcrfv", "passwordpassword"]
out = set(walks)
for w, s in itertools.product(words, suffixes):
    for form in (w, w.capitalize(), w + w):
        cand = (form + s).lower()
        if len(cand) >= 12:
            out.add(cand)
for d in range(10):
    out.add(str(d) * 12)
path = pathlib.Path(__file__).resolve().parent.parent / "crates/domain/data/common-passwords.txt"
path.write_text("".join(p + "\n" for p in sorted(out)))
print(f"{len(out)} passwords written to {path}")
