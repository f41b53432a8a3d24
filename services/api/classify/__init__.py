"""Classifying images through the API: classifiers, and classify requests answered now or as jobs.

- `create`: a classifier made of a training job's snapshot (rules, file copies, proof it loads);
- `inputs` + `staging`: the images of a classify request (uploads or URLs), held while it runs;
- `now`: the synchronous path, `classify_now(...)`, with the process's model cache;
- `archive`: the tar.gz download that real Caffe loads;
- `decide` + `submit`: classify jobs for requests too big to answer at once (`submit_classify_job`).
"""
