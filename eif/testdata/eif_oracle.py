# SPDX-License-Identifier: Apache-2.0
#
# An independent EIF oracle for eif's known-answer tests, written from the
# formats of aws-nitro-enclaves-image-format and QEMU's hw/core/eif.c, not
# from the Go code. It reads a JSON job on stdin and prints JSON:
#   build:   lay out the image (struct, zlib.crc32, hashlib) and measure it
#   verify:  check a signed image: PCR8 from the PEM's DER (read as OpenSSL does), the COSE_Sign1
#            over its Sig_structure with the `cryptography` package, and the
#            serde_cbor layout of the signature section.
import base64, hashlib, json, struct, sys, zlib

def sha384(b): return hashlib.sha384(b).digest()
def extend(d): return sha384(b"\0" * 48 + d)

def cbor_head(major, n):
    m = major << 5
    if n < 24: return bytes([m | n])
    if n < 256: return bytes([m | 24, n])
    if n < 65536: return bytes([m | 25]) + struct.pack(">H", n)
    return bytes([m | 26]) + struct.pack(">I", n)

def cbor_text(s): return cbor_head(3, len(s)) + s.encode()
def cbor_vec_u8(b): return cbor_head(4, len(b)) + b"".join(cbor_head(0, c) for c in b)

def pcr_payload(pcr0):
    return cbor_head(5, 2) + cbor_text("register_index") + cbor_head(0, 0) + cbor_text("register_value") + cbor_vec_u8(pcr0)

def layout(sections, version=4):
    offs, sizes, body, off = [], [], b"", 548
    for typ, data in sections:
        offs.append(off); sizes.append(len(data))
        body += struct.pack(">HHQ", typ, 0, len(data)) + data
        off += 12 + len(data)
    offs += [0] * (32 - len(offs)); sizes += [0] * (32 - len(sizes))
    head = struct.pack(">4sHHQQHH32Q32QI", b".eif", version, 0, 1 << 30, 2, 0, len(sections), *offs, *sizes, 0)
    crc = zlib.crc32(body, zlib.crc32(head)) & 0xffffffff
    return head + struct.pack(">I", crc) + body

def measure(kernel, cmdline, ramdisks):
    return {
        "PCR0": extend(sha384(kernel + cmdline + b"".join(ramdisks))).hex(),
        "PCR1": extend(sha384(kernel + cmdline + ramdisks[0])).hex(),
        "PCR2": extend(sha384(b"".join(ramdisks[1:]))).hex(),
    }

def build(job):
    k, c = bytes.fromhex(job["kernel"]), job["cmdline"].encode()
    rs = [bytes.fromhex(r) for r in job["ramdisks"]]
    meta = job["metadata"]
    m = {"ImageName": meta["ImageName"], "ImageVersion": meta["ImageVersion"],
         "BuildMetadata": {f: meta["BuildMetadata"][f] for f in ["BuildTime", "BuildTool", "BuildToolVersion", "OperatingSystem", "KernelVersion"]},
         "DockerInfo": meta["DockerInfo"], "CustomMetadata": meta["CustomMetadata"]}
    # serde_json: compact, struct fields in order, Value maps sorted, no HTML escaping.
    def value(v): return json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    mj = ('{"ImageName":%s,"ImageVersion":%s,"BuildMetadata":%s,"DockerInfo":%s,"CustomMetadata":%s}' % (
        value(m["ImageName"]), value(m["ImageVersion"]),
        json.dumps(m["BuildMetadata"], separators=(",", ":"), ensure_ascii=False),
        value(m["DockerInfo"]), value(m["CustomMetadata"]))).encode()
    secs = [(1, k), (2, c), (5, mj)] + [(3, r) for r in rs]
    out = measure(k, c, rs)
    out["image"] = layout(secs).hex()
    return out

def verify(job):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    img = bytes.fromhex(job["image"])
    n = struct.unpack(">H", img[26:28])[0]
    offs = struct.unpack(">32Q", img[28:284])[:n]
    secs = []
    for o in offs:
        typ, _, size = struct.unpack(">HHQ", img[o:o + 12])
        secs.append((typ, img[o + 12:o + 12 + size]))
    k = [d for t, d in secs if t == 1][0]
    c = [d for t, d in secs if t == 2][0]
    rs = [d for t, d in secs if t == 3]
    sig = [d for t, d in secs if t == 4][0]
    out = measure(k, c, rs)
    pem = job["cert_pem"].encode()
    # OpenSSL's PEM reading, as nitro-cli's X509::from_pem: the first
    # CERTIFICATE block, text and other blocks around it skipped.
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    out["PCR8"] = extend(sha384(der)).hex()
    # The COSE_Sign1 the section must hold: protected {1: -35}, {}, payload, r||s.
    protected = bytes([0xa1, 0x01, 0x38, 0x22])
    payload = pcr_payload(bytes.fromhex(out["PCR0"]))
    rs_sig = bytes.fromhex(job["r_s"])
    cose = cbor_head(4, 4) + cbor_head(2, len(protected)) + protected + b"\xa0" + cbor_head(2, len(payload)) + payload + cbor_head(2, 96) + rs_sig
    section = cbor_head(4, 1) + cbor_head(5, 2) + cbor_text("signing_certificate") + cbor_vec_u8(pem) + cbor_text("signature") + cbor_vec_u8(cose)
    out["section_matches"] = section == sig
    to_be_signed = cbor_head(4, 4) + cbor_text("Signature1") + cbor_head(2, len(protected)) + protected + cbor_head(2, 0) + cbor_head(2, len(payload)) + payload
    cert = x509.load_der_x509_certificate(der)
    try:
        cert.public_key().verify(encode_dss_signature(int.from_bytes(rs_sig[:48], "big"), int.from_bytes(rs_sig[48:], "big")), to_be_signed, ec.ECDSA(hashes.SHA384()))
        out["signature_valid"] = True
    except Exception:
        out["signature_valid"] = False
    crc = zlib.crc32(img[548:], zlib.crc32(img[:544])) & 0xffffffff
    out["crc_ok"] = crc == struct.unpack(">I", img[544:548])[0]
    return out

job = json.load(sys.stdin)
print(json.dumps({"build": build, "verify": verify}[job["op"]](job)))
