"""Executes the notebooks headless and saves their outputs in place.

    python run.py [NOTEBOOK.ipynb ...]     (default: every notebook here)
"""
import pathlib
import sys

import nbclient
import nbformat

here = pathlib.Path(__file__).resolve().parent
paths = [pathlib.Path(p) for p in sys.argv[1:]] or sorted(here.glob("*.ipynb"))
for path in paths:
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(path.resolve().parent)}}).execute()
    nbformat.write(nb, path)
    print(f"executed {path}")
