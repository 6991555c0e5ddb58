"""Batch scoring, written for a laptop with many cores."""

import asyncio

import pandas as pd  # expect: MSE504
from joblib import Parallel, delayed


def _score(row):
    return sum(row) / max(len(row), 1)


def score_all(rows):
    return Parallel(n_jobs=-1)(delayed(_score)(r) for r in rows)  # expect: MSE107


def score_all_threads(rows):
    return Parallel(n_jobs=-1, prefer="threads")(delayed(_score)(r) for r in rows)


def to_frame(rows):
    return pd.DataFrame(rows)


async def convert(path):
    proc = await asyncio.create_subprocess_exec("pdftotext", path)  # expect: MSE105
    return await proc.wait()


def serve():
    import uvicorn

    uvicorn.run("app:app", workers=4)  # expect: MSE108
