"""pySigma plugin: neakta's processing pipelines (``sigma convert -p neakta_ecs``)."""

from detect.pipelines import ecs_pipeline, none_pipeline, raw_pipeline

pipelines = {
    "neakta_raw": raw_pipeline,
    "neakta_ecs": ecs_pipeline,
    "neakta_none": none_pipeline,
}

__all__ = ["ecs_pipeline", "none_pipeline", "pipelines", "raw_pipeline"]
