"""Index templates from schemas/ land in Elasticsearch once and shape new versioned indices."""

import pytest
from elasticsearch import BadRequestError

from jobs.stores.clients import elasticsearch_client
from jobs.runtime.config import Settings
from jobs.stores.search_indices import apply_index_templates


def test_templates_apply_once_and_make_strict_geo_indices(services: Settings) -> None:
    es = elasticsearch_client(services)
    es.options(ignore_status=404).indices.delete_index_template(name="meters")
    first = apply_index_templates(es)
    second = apply_index_templates(es)
    assert "created index template meters" in first
    assert second == []

    index = "meters-v-template-test"
    es.indices.delete(index=index, ignore_unavailable=True)
    es.index(index=index, id="M-1", refresh=True,
             document={"device_id": "M-1", "location": {"lat": 41.3275, "lon": 19.8187}, "meter_class": "residential"})
    near = es.search(index=index, query={"geo_distance": {"distance": "1km", "location": {"lat": 41.33, "lon": 19.82}}})
    assert [hit["_id"] for hit in near["hits"]["hits"]] == ["M-1"]
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
        es.index(index=index, id="M-2", document={"device_id": "M-2", "not_in_the_mapping": 1})
    es.indices.delete(index=index)
