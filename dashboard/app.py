"""brandmon dashboard: `streamlit run dashboard/app.py` (or `brandmon dashboard`).

Settings come from `-- --config FILE` and BRANDMON_* env at app start; each page is a file in pages/.
"""

from __future__ import annotations

import streamlit as st

from dashboard import common

st.set_page_config(page_title="brandmon", page_icon="📣", layout="wide")

if common.check_password():
    common.settings()
    PAGES = {
        "Monitor": [
            st.Page("pages/overview.py", title="Overview", icon="📊", default=True),
            st.Page("pages/mentions.py", title="Mentions explorer", icon="🔎"),
            st.Page("pages/themes.py", title="Complaint themes", icon="🧩"),
        ],
        "Act": [
            st.Page("pages/queue.py", title="Escalation queue", icon="🚨"),
            st.Page("pages/alerts.py", title="Alerts", icon="🔔"),
        ],
        "People & sources": [
            st.Page("pages/authors.py", title="Advocates & opinion leaders", icon="🗣️"),
            st.Page("pages/sources.py", title="Sources health", icon="🩺"),
        ],
    }
    page = st.navigation(PAGES)
    st.sidebar.markdown("**brandmon** · brand reputation monitor")
    common.analyst_box()
    page.run()
    st.sidebar.caption("Database: " + common.md_escape(common.settings().db_path.name))
