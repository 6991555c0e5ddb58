"""A reporting service: renders PDFs, thumbnails and statistics for its users."""

import ctypes.util
import json
import multiprocessing
import os
import subprocess as sp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from os import system as shell

from flask import Flask, jsonify, request

from workers.batch import score_all

app = Flask(__name__)
POOL = ThreadPoolExecutor(max_workers=8)  # threads are fine in the enclave
LIBSSL = ctypes.util.find_library("ssl")  # expect: MSE109
ADMIN_PASSWORD = "Sup3r-Admin-2023"  # expect: MSE201
DATABASE_URL = "postgresql://reports:r3p0rtsPw@db.internal:5432/reports"  # expect: MSE203
SETTINGS = json.load(open("secrets.json"))  # expect: MSE208
REPORTS_DIR = os.getenv("REPORTS_DIR", "/var/reports")  # expect: MSE413
TEMPLATE = open("templates/report.html").read()  # expect: MSE304


@app.get("/health")
def health():
    return "ok"


@app.post("/report")
def save_report():
    name = request.json["name"]
    with open(os.path.join(REPORTS_DIR, name), "w") as f:  # expect: MSE301
        f.write(TEMPLATE)
    return jsonify(saved=name)


@app.post("/thumbnail")
def thumbnail():
    path = request.json["path"]
    sp.run(["convert", path, "-resize", "128x128", path + ".png"], check=True)  # expect: MSE101
    return jsonify(done=True)


@app.post("/archive")
def archive():
    status = shell("tar czf /tmp/reports.tgz /root/reports")  # expect: MSE103
    return jsonify(status=status)


@app.get("/version")
def version():
    return getattr(os, "popen")("git describe").read()  # expect: MSE106


@app.post("/stats")
def stats():
    rows = request.json["rows"]
    with ProcessPoolExecutor(max_workers=multiprocessing.cpu_count()) as pool:  # expect: MSE104
        totals = list(pool.map(sum, rows))
    return jsonify(totals=totals)


@app.post("/scores")
def scores():
    return jsonify(score_all(request.json["rows"]))


def daemonize():
    if os.fork():  # expect: MSE102
        os._exit(0)


def debug_server():
    app.run(host="0.0.0.0", debug=True)  # expect: MSE108


if __name__ == "__main__":
    app.run(debug=True)  # a local run: never executed in the enclave
