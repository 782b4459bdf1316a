// Sealpost test oracle: lists every signature and document timestamp of a PDF with PDFBox 2 and checks
// each with Bouncy Castle — the digest over the /ByteRange and the CMS (or RFC 3161 token) signature —
// and reports the DSS. Prints JSON. Usage: java -cp <pdfbox, bc jars>:. PdfSigCheck file.pdf [password]
import java.io.File;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.Security;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.apache.pdfbox.cos.COSArray;
import org.apache.pdfbox.cos.COSDictionary;
import org.apache.pdfbox.cos.COSName;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.PDSignature;
import org.apache.pdfbox.pdmodel.interactive.form.PDSignatureField;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.CMSAttributes;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.DefaultAlgorithmNameFinder;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.util.Store;

public class PdfSigCheck {
  static String q(String s) {
    return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
  }

  static String hex(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (byte x : b) sb.append(String.format("%02X", x));
    return sb.toString();
  }

  static byte[] digest(String oid, byte[] data) throws Exception {
    String name = new DefaultAlgorithmNameFinder().getAlgorithmName(new ASN1ObjectIdentifier(oid));
    return MessageDigest.getInstance(name.replace("SHA", "SHA-").replace("SHA--", "SHA-"), "BC").digest(data);
  }

  @SuppressWarnings("unchecked")
  static X509CertificateHolder signerCert(CMSSignedData cms, SignerInformation si) {
    Store<X509CertificateHolder> store = cms.getCertificates();
    Collection<X509CertificateHolder> m = store.getMatches(si.getSID());
    return m.isEmpty() ? null : m.iterator().next();
  }

  public static void main(String[] args) throws Exception {
    Security.addProvider(new BouncyCastleProvider());
    File file = new File(args[0]);
    byte[] pdf = Files.readAllBytes(file.toPath());
    List<String> out = new ArrayList<>();
    String dss = "null";
    try (PDDocument doc = args.length > 1 ? PDDocument.load(file, args[1]) : PDDocument.load(file)) {
      for (PDSignatureField field : doc.getSignatureFields()) {
        PDSignature sig = field.getSignature();
        if (sig == null) continue;
        int[] br = sig.getByteRange();
        String type = COSName.DOC_TIME_STAMP.equals(sig.getCOSObject().getCOSName(COSName.TYPE)) ? "timestamp" : "signature";
        boolean whole = br.length == 4 && (long) br[2] + br[3] == pdf.length;
        boolean digestOk = false, signatureOk = false;
        boolean hasSignatureTimestamp = false;
        String error = null;
        byte[] contents = sig.getContents(pdf);
        try {
          byte[] signed = sig.getSignedContent(pdf);
          if ("ETSI.RFC3161".equals(sig.getSubFilter())) {
            TimeStampToken tst = new TimeStampToken(new CMSSignedData(contents));
            byte[] imprint = tst.getTimeStampInfo().getMessageImprintDigest();
            digestOk = MessageDigest.isEqual(imprint, digest(tst.getTimeStampInfo().getMessageImprintAlgOID().getId(), signed));
            X509CertificateHolder cert = (X509CertificateHolder) tst.getCertificates().getMatches(tst.getSID()).iterator().next();
            tst.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert));
            signatureOk = true;
          } else {
            CMSSignedData cms = new CMSSignedData(new CMSProcessableByteArray(signed), contents);
            SignerInformation si = cms.getSignerInfos().getSigners().iterator().next();
            Attribute md = si.getSignedAttributes().get(CMSAttributes.messageDigest);
            byte[] claimed = ASN1OctetString.getInstance(md.getAttrValues().getObjectAt(0)).getOctets();
            digestOk = MessageDigest.isEqual(claimed, digest(si.getDigestAlgOID(), signed));
            X509CertificateHolder cert = signerCert(cms, si);
            signatureOk = cert != null && si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert));
            if (si.getUnsignedAttributes() != null) {
              Attribute ts = si.getUnsignedAttributes().get(new ASN1ObjectIdentifier("1.2.840.113549.1.9.16.2.14"));
              if (ts != null) {
                TimeStampToken tst = new TimeStampToken(new CMSSignedData(ts.getAttrValues().getObjectAt(0).toASN1Primitive().getEncoded()));
                byte[] imprint = tst.getTimeStampInfo().getMessageImprintDigest();
                X509CertificateHolder tsaCert = (X509CertificateHolder) tst.getCertificates().getMatches(tst.getSID()).iterator().next();
                tst.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(tsaCert));
                hasSignatureTimestamp = MessageDigest.isEqual(imprint, digest(tst.getTimeStampInfo().getMessageImprintAlgOID().getId(), si.getSignature()));
              }
            }
          }
        } catch (Exception e) {
          error = e.toString();
        }
        out.add("{\"field\":" + q(field.getFullyQualifiedName()) + ",\"subFilter\":" + q(sig.getSubFilter())
            + ",\"type\":" + q(type) + ",\"coversWholeDocument\":" + whole + ",\"digestOk\":" + digestOk
            + ",\"signatureOk\":" + signatureOk + ",\"signatureTimestamp\":" + hasSignatureTimestamp
            + ",\"contentsSha1\":" + q(hex(MessageDigest.getInstance("SHA-1").digest(contents)))
            + (error != null ? ",\"error\":" + q(error) : "") + "}");
      }
      COSDictionary d = doc.getDocumentCatalog().getCOSObject().getCOSDictionary(COSName.getPDFName("DSS"));
      if (d != null) {
        COSDictionary vri = d.getCOSDictionary(COSName.getPDFName("VRI"));
        List<String> keys = new ArrayList<>();
        if (vri != null) for (COSName k : vri.keySet()) keys.add(q(k.getName()));
        dss = "{\"certs\":" + size(d, "Certs") + ",\"ocsps\":" + size(d, "OCSPs") + ",\"crls\":" + size(d, "CRLs")
            + ",\"vri\":[" + String.join(",", keys) + "]}";
      }
    }
    System.out.println("{\"signatures\":[" + String.join(",", out) + "],\"dss\":" + dss + "}");
  }

  static int size(COSDictionary d, String key) {
    COSArray a = d.getCOSArray(COSName.getPDFName(key));
    return a == null ? 0 : a.size();
  }
}
