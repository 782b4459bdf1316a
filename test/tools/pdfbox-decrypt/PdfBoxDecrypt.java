// Oracle for Sealpost's public-key PDF encryption: opens a PDF with PDFBox 2 and a recipient's PKCS#12
// (PDDocument.load(file, password, keyStore, alias)) and prints what a user would check.
// Usage: java PdfBoxDecrypt <pdf> <p12> <p12-password> [alias]
// Output lines: encrypted=<bool>, filter=<name>, keyBits=<n>, pages=<n>, signatures=<n>, canPrint=<bool>,
// canModify=<bool>, canExtract=<bool>, signatureValid=<bool> per signature (CMS over the /ByteRange of the
// encrypted file, checked with Bouncy Castle), text=<page text, newlines as \n>. Exit 2 when it cannot open the file.
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import org.apache.pdfbox.pdmodel.interactive.digitalsignature.PDSignature;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.encryption.AccessPermission;
import org.apache.pdfbox.pdmodel.encryption.PDEncryption;
import org.apache.pdfbox.text.PDFTextStripper;

public class PdfBoxDecrypt {
  public static void main(String[] args) throws Exception {
    String alias = args.length > 3 ? args[3] : null;
    try (InputStream keyStore = new FileInputStream(args[1]);
         PDDocument doc = PDDocument.load(new File(args[0]), args[2], keyStore, alias)) {
      PDEncryption enc = doc.getEncryption();
      AccessPermission ap = doc.getCurrentAccessPermission();
      System.out.println("encrypted=" + doc.isEncrypted());
      System.out.println("filter=" + (enc == null ? "" : enc.getFilter()));
      System.out.println("keyBits=" + (enc == null ? 0 : enc.getLength()));
      System.out.println("pages=" + doc.getNumberOfPages());
      System.out.println("signatures=" + doc.getSignatureDictionaries().size());
      byte[] file = Files.readAllBytes(new File(args[0]).toPath());
      for (PDSignature sig : doc.getSignatureDictionaries()) {
        byte[] signed = sig.getSignedContent(file);
        CMSSignedData cms = new CMSSignedData(new CMSProcessableByteArray(signed), sig.getContents(file));
        SignerInformation si = cms.getSignerInfos().getSigners().iterator().next();
        X509CertificateHolder cert =
            (X509CertificateHolder) cms.getCertificates().getMatches(si.getSID()).iterator().next();
        boolean valid;
        try {
          valid = si.verify(new JcaSimpleSignerInfoVerifierBuilder().build(cert));
        } catch (org.bouncycastle.cms.CMSException e) {
          valid = false; // e.g. the message-digest attribute does not match the covered bytes
        }
        System.out.println("signatureValid=" + valid);
      }
      System.out.println("canPrint=" + ap.canPrint());
      System.out.println("canModify=" + ap.canModify());
      System.out.println("canExtract=" + ap.canExtractContent());
      String text = new PDFTextStripper().getText(doc);
      System.out.println("text=" + text.replace("\r", "").replace("\n", "\\n"));
    } catch (Exception e) {
      System.out.println("error=" + e.getClass().getSimpleName() + ": " + e.getMessage());
      System.exit(2);
    }
  }
}
