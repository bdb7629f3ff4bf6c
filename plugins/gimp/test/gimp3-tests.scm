; Script-Fu (GIMP 3.0) side of the plug-in tests: the tests are in common-tests.scm (loaded
; first); here is how GIMP 3 does what they need (named arguments, drawables arrays, booleans
; as 0/1 in this dialect), and the tests only 3.0 has. The content and style PNGs come from
; run-tests.sh (GIMP 3 has no plasma plug-in). GIMP 3 stops at the first failing batch command,
; so expected failures are caught in the tests.

(define ns-u8 PRECISION-U8-NON-LINEAR)

(define (ns-width d) (car (gimp-drawable-get-width d)))
(define (ns-height d) (car (gimp-drawable-get-height d)))
(define (ns-offsets d) (gimp-drawable-get-offsets d))

; Exports one layer (its own size, no mask) as a PNG with no metadata, so equal pixels give
; equal files.
(define (ns-png img drawable name)
  (let* ((out (car (gimp-image-new-with-precision (ns-width drawable) (ns-height drawable)
                                                  (car (gimp-image-get-base-type img))
                                                  (car (gimp-image-get-precision img)))))
         (copy (car (gimp-layer-new-from-drawable drawable out))))
    (gimp-image-insert-layer out copy 0 0)
    (gimp-layer-set-offsets copy 0 0)
    (if (> (car (gimp-layer-get-mask copy)) 0) (gimp-layer-remove-mask copy MASK-DISCARD))
    (file-png-export #:run-mode RUN-NONINTERACTIVE #:image out #:file (ns-path name)
                     #:interlaced FALSE #:compression 9 #:bkgd FALSE #:offs FALSE #:phys FALSE
                     #:time FALSE #:save-transparent FALSE #:include-exif FALSE
                     #:include-iptc FALSE #:include-xmp FALSE #:include-color-profile FALSE
                     #:include-thumbnail FALSE #:include-comment FALSE)
    (gimp-image-delete out)))

(define (ns-layers img) (vector->list (car (gimp-image-get-layers img))))
(define (ns-layer-count img) (length (ns-layers img)))

(define (ns-load name) (car (gimp-file-load RUN-NONINTERACTIVE (ns-path name))))

; content.png (48 x 48) scaled to w x h, placed at (x, y) in an image of iw x ih, converted to
; the base type (RGB or GRAY) and precision asked for.
(define (ns-make-content type precision iw ih w h x y)
  (let* ((img (ns-load "content.png"))
         (lay (car (ns-layers img))))
    (gimp-image-scale img w h)
    (gimp-image-resize img iw ih x y)
    (if (= type GRAY) (gimp-image-convert-grayscale img))
    (if (not (= precision (car (gimp-image-get-precision img))))
        (gimp-image-convert-precision img precision))
    (gimp-item-set-name lay "source")
    (gimp-image-clean-all img)
    (list img lay)))

(define (ns-call img lay style iters)
  (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                  #:style-file style #:size 0 #:iterations iters #:content-weight 5.0
                  #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0))

;; One call at working size `size` (0: the layer's own).
(define (ns-call-size img lay style size iters)
  (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                  #:style-file style #:size size #:iterations iters #:content-weight 5.0
                  #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0))

(define (ns-call-all img lay style iters strength backbone)
  (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                  #:style-file style #:size 0 #:iterations iters #:content-weight 5.0
                  #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0
                  #:strength strength #:backbone backbone))

;; region-mode `mode`, strength 1, the default backbone; region -1: the selection (the
;; argument left out: its default, none).
(define (ns-call-mode img lay style mode region outside iters)
  (if (= region -1)
      (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                      #:style-file style #:size 0 #:iterations iters #:content-weight 5.0
                      #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0
                      #:strength 1.0 #:region-mode mode #:outside-style-file outside)
      (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                      #:style-file style #:size 0 #:iterations iters #:content-weight 5.0
                      #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0
                      #:strength 1.0 #:region-mode mode #:region-drawable region
                      #:outside-style-file outside)))

;; Every argument it needs, and `device`.
(define (ns-call-device img lay style iters device)
  (plug-in-nstyle #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector lay)
                  #:style-file style #:size 0 #:iterations iters #:content-weight 5.0
                  #:style-weight 100.0 #:tv-weight 0.01 #:preserve-colors 0 #:device device))

; --- tests only GIMP 3.0 has ----------------------------------------------------------------

; (The arguments, their ranges and defaults are read from the profile's pluginrc.)
(define (ns-test-registered)
  (ns-fact "reg-exists" (car (gimp-pdb-procedure-exists "plug-in-nstyle"))))

; RUN-WITH-LAST-VALS: the remembered values (run-tests.sh writes them: GIMP 3 remembers only
; interactive runs), no dialog (there is no display here).
(define (ns-test-last-vals)
  (let* ((c (ns-make-content RGB ns-u8 32 32 32 32 0 0))
         (img (car c)) (lay (cadr c)))
    (ns-call img lay ns-style 2)
    (let ((new (car (plug-in-nstyle #:run-mode RUN-WITH-LAST-VALS #:image img
                                    #:drawables (vector lay)))))
      (ns-fact "lastvals-layers-after" (ns-layer-count img))
      (ns-fact "lastvals-name" (car (gimp-item-get-name new))))))
