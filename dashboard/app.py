"""brandmon dashboard: `streamlit run dashboard/app.py` (or `brandmon dashboard`).

Settings come from `-- --config FILE` and BRANDMON_* env at app start; each page is a file in views/.
"""

from __future__ import annotations

import streamlit as st

from dashboard.actions import analyst_box
from dashboard.auth import check_access
from dashboard.reads import close_run_connection
from dashboard.safe_text import md_escape
from dashboard.session import settings

st.set_page_config(page_title="brandmon", page_icon="📣", layout="wide")

if check_access():
    settings()
    PAGES = {
        "Monitor": [
            st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page("views/mentions.py", title="Mentions explorer", icon=":material/search:"),
            st.Page("views/themes.py", title="Complaint themes", icon=":material/category:"),
        ],
        "Act": [
            st.Page("views/queue.py", title="Escalation queue", icon=":material/priority_high:"),
            st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
        ],
        "People & sources": [
            st.Page("views/authors.py", title="Advocates & opinion leaders", icon=":material/record_voice_over:"),
            st.Page("views/sources.py", title="Sources health", icon=":material/monitor_heart:"),
        ],
    }
    page = st.navigation(PAGES)
    st.sidebar.markdown("**brandmon** · brand reputation monitor")
    analyst_box()
    try:
        page.run()
    finally:
        close_run_connection()
    st.sidebar.caption("Database: " + md_escape(settings().db_path.name))
