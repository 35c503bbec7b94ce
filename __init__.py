"""Not the package: the repository's root folder. The package is in simulator/ (installed
as ``pssim``, see pyproject.toml).

Python looks for modules in the script's folder (or the current one) first, so ``import
pssim`` run beside a clone whose folder is named ``pssim`` finds this folder instead of the
installed package, and would fail later on a name it lacks ("cannot import name 'run' from
'pssim' (unknown location)"). It stops there instead, saying why and what to do. Imported
under any other name (pytest collects it as the root of the tests' folder), it does
nothing.
"""

import os

if __name__ == "pssim":
    raise ImportError(
        f"'import pssim' found the folder {os.path.dirname(os.path.abspath(__file__))}, a "
        "clone of the pssim repository, not the installed package: the folder Python "
        "starts in comes first on its path, and a pssim/ folder there shadows the package. "
        "Run Python from another folder (inside the clone, say), or rename the clone (git "
        "clone … pssim-src).")
