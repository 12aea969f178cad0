"""The peer of bench/recovery.py: psycopg_pool's AsyncConnectionPool with its defaults, asked for a connection every
10 ms; prints `up <monotonic>` or `down <monotonic>` each time the answer changes.

    python default_pool.py CONNINFO
"""

from __future__ import annotations

import asyncio
import sys
import time

import psycopg
from psycopg_pool import AsyncConnectionPool

PERIOD_S = 0.01


async def main(conninfo: str) -> None:
    pool = AsyncConnectionPool(conninfo, min_size=2, kwargs={"autocommit": True}, open=False)
    await pool.open(wait=True)
    was_up: bool | None = None
    while True:
        try:
            async with pool.connection(timeout=PERIOD_S) as conn:
                await conn.execute("SELECT 1")
            up = True
        except psycopg.Error:
            up = False
        if up is not was_up:
            print(f"{'up' if up else 'down'} {time.monotonic():.6f}", flush=True)
            was_up = up
        await asyncio.sleep(PERIOD_S)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
