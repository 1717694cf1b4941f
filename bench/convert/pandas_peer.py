"""bench/convert's pandas peer: the column job the issue compares kenshin against.

Reads the CP932 export, keeps the columns the kenshin mapping reads (names in argv[3], one per line),
maps the sex codes to terms, computes BMI from height and weight and writes a CP932 CSV.

    python3 bench/convert/pandas_peer.py EXPORT.csv OUT.csv COLUMNS.txt
"""
import sys

import pandas as pd

src, out, columns_path = sys.argv[1], sys.argv[2], sys.argv[3]
with open(columns_path, encoding="utf-8") as f:
    columns = [line.rstrip("\n") for line in f if line.strip()]
df = pd.read_csv(src, encoding="cp932", usecols=columns, dtype=str, keep_default_na=False)
df["コード_sex"] = df["コード_sex"].map({"1": "男性", "2": "女性"})
height_m = pd.to_numeric(df["検査_height"], errors="coerce") / 100
weight = pd.to_numeric(df["検査_weight"], errors="coerce")
df["BMI"] = (weight / (height_m * height_m)).round(1)
df.to_csv(out, index=False, encoding="cp932", lineterminator="\r\n")
print(len(df))
