"""Entry point: ``streamlit run snowpark/amplitude_dashboard/streamlit_app.py`` on a laptop
(``make dashboard``), and MAIN_FILE of the Streamlit in Snowflake app (``snowflake.yml``).

Streamlit puts this file's folder on ``sys.path``; the packages live one level up (the
``snowpark/`` folder, mirrored in the app's stage), so that folder is added first.
"""

import sys
from pathlib import Path

_PACKAGES = str(Path(__file__).resolve().parent.parent)
if _PACKAGES not in sys.path:
    sys.path.insert(0, _PACKAGES)

from amplitude_dashboard.app import main  # noqa: E402

main()
