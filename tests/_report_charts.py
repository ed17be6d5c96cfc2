"""Read the charts of a ``report.html``: what each PNG's ``cvn_sklearn`` text chunk says it draws."""

import base64
import io
import json
import re

from PIL import Image


def charts(page: str) -> list[dict]:
    """Per image of the page: ``{"alt", "axes"}``, the axes as :func:`cvn_sklearn.sweep.report.chart_info` wrote them."""
    found = []
    for alt, data in re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', page):
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        found.append({"alt": alt, **json.loads(image.text["cvn_sklearn"])})
    return found
