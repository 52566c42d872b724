"""A small Django app guarded by Provost: DRF views with `ProvostPermission`, a plain view with
`provost_required`, and a listing filtered with `filter_queryset_by_scopes`."""
